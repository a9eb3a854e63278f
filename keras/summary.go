package keras

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/deepframe/deepframe/layers"
)

// Summary prints the model as Keras 2's model.summary() does: one row per layer with its
// output shape (None standing for the batch axis) and parameter count, a "Connected to"
// column for functional models, and the parameter totals. Columns widen for names longer
// than Keras's defaults instead of truncating them.
func (m *Model) Summary(w io.Writer) error {
	g, err := m.ready()
	if err != nil {
		return err
	}
	functional := m.class != "Sequential"
	headers := []string{"Layer (type)", "Output Shape", "Param #"}
	widths := []int{29, 26, 10}
	if functional {
		headers = append(headers, "Connected to")
		widths = []int{32, 21, 12, 33}
	}

	type row struct{ cells []string }
	var blocks [][]row // one block of rows per layer, separated by rules
	if functional {
		for _, i := range g.inputs {
			nd := &g.nodes[i]
			blocks = append(blocks, []row{{cells: []string{
				nd.name + " (" + nd.class + ")", "[" + batchShape(nd.shape).String() + "]", "0", ""}}})
		}
	}
	for _, l := range g.layers {
		shape := ""
		var connected []string
		for j := range g.nodes {
			nd := &g.nodes[j]
			if nd.layer != l {
				continue
			}
			s := batchShape(nd.shape).String()
			switch {
			case shape == "":
				shape = s
			case shape != s:
				shape = "multiple"
			}
			for _, in := range nd.inputs {
				connected = append(connected, fmt.Sprintf("%s[%d][0]", g.nodes[in].name, g.nodes[in].call))
			}
		}
		first := []string{l.Name() + " (" + l.ClassName() + ")", shape, strconv.Itoa(layers.ParamCount(l))}
		if !functional {
			blocks = append(blocks, []row{{cells: first}})
			continue
		}
		if len(connected) == 0 {
			connected = []string{""}
		}
		b := []row{{cells: append(first, connected[0])}}
		for _, c := range connected[1:] {
			b = append(b, row{cells: []string{"", "", "", c}})
		}
		blocks = append(blocks, b)
	}

	for _, b := range blocks {
		for _, r := range b {
			for i, c := range r.cells {
				widths[i] = max(widths[i], len(c)+1)
			}
		}
	}
	lineLen := 0
	for _, wd := range widths {
		lineLen += wd
	}
	bw := bufio.NewWriter(w)
	printRow := func(cells []string) {
		var sb strings.Builder
		for i, c := range cells {
			sb.WriteString(c)
			if i < len(cells)-1 {
				sb.WriteString(strings.Repeat(" ", widths[i]-len(c)))
			}
		}
		fmt.Fprintln(bw, strings.TrimRight(sb.String(), " "))
	}
	fmt.Fprintf(bw, "Model: %q\n", m.name)
	fmt.Fprintln(bw, strings.Repeat("_", lineLen))
	printRow(headers)
	fmt.Fprintln(bw, strings.Repeat("=", lineLen))
	for i, b := range blocks {
		for _, r := range b {
			printRow(r.cells)
		}
		if i < len(blocks)-1 {
			fmt.Fprintln(bw, strings.Repeat("_", lineLen))
		}
	}
	fmt.Fprintln(bw, strings.Repeat("=", lineLen))
	total, trainable := m.CountParams()
	fmt.Fprintf(bw, "Total params: %s\n", thousands(total))
	fmt.Fprintf(bw, "Trainable params: %s\n", thousands(trainable))
	fmt.Fprintf(bw, "Non-trainable params: %s\n", thousands(total-trainable))
	fmt.Fprintln(bw, strings.Repeat("_", lineLen))
	return bw.Flush()
}

// thousands formats n with comma separators: 10903 → "10,903".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
