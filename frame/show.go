package frame

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// controlChars keeps a value with line breaks on one table line.
var controlChars = strings.NewReplacer("\n", "\\n", "\r", "\\r", "\t", "\\t")

// showWidth is Spark's cell limit: longer values are cut to 17 characters and "...".
const showWidth = 20

// Show prints the first n rows as an aligned text table in the layout of Spark's show():
// values right-aligned, cells longer than 20 characters truncated, and a note when rows were
// left out.
func (df *DataFrame) Show(ctx context.Context, w io.Writer, n int) error {
	if n < 0 {
		return fmt.Errorf("frame: Show(%d): want n >= 0", n)
	}
	head, err := df.Limit(int64(n) + 1)
	if err != nil {
		return err
	}
	recs, err := head.Records(ctx)
	if err != nil {
		return err
	}
	defer releaseAll(recs)
	cols := df.Columns()
	widths := make([]int, len(cols))
	for j, c := range cols {
		widths[j] = max(utf8.RuneCountInString(c), 3)
	}
	var rows [][]string
	more := false
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			if len(rows) == n {
				more = true
				break
			}
			row := make([]string, len(cols))
			for j := range cols {
				s := "null"
				if c := r.Column(j); c.IsValid(i) {
					s = valueString(c, i)
				}
				s = controlChars.Replace(s)
				if utf8.RuneCountInString(s) > showWidth {
					s = string([]rune(s)[:showWidth-3]) + "..."
				}
				row[j] = s
				widths[j] = max(widths[j], utf8.RuneCountInString(s))
			}
			rows = append(rows, row)
		}
	}
	var b strings.Builder
	sep := func() {
		b.WriteByte('+')
		for _, wd := range widths {
			b.WriteString(strings.Repeat("-", wd))
			b.WriteByte('+')
		}
		b.WriteByte('\n')
	}
	line := func(cells []string) {
		b.WriteByte('|')
		for j, c := range cells {
			b.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c)))
			b.WriteString(c)
			b.WriteByte('|')
		}
		b.WriteByte('\n')
	}
	sep()
	line(cols)
	sep()
	for _, r := range rows {
		line(r)
	}
	sep()
	if more {
		fmt.Fprintf(&b, "only showing top %d row%s\n", n, plural(n))
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// valueString formats one non-null value the way Spark prints it: doubles as Java does
// (1.0, 1.0E-5), vectors as [a,b], structs as {a, b}, binary as hex bytes.
func valueString(arr arrow.Array, i int) string {
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Float64:
		return formatDouble(a.Value(i), 64)
	case *array.Float32:
		return formatDouble(float64(a.Value(i)), 32)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Binary:
		return hexBytes(a.Value(i))
	case *array.FixedSizeList:
		lo, hi := a.ValueOffsets(i)
		return listString(a.ListValues(), int(lo), int(hi))
	case *array.List:
		lo, hi := a.ValueOffsets(i)
		return listString(a.ListValues(), int(lo), int(hi))
	case *array.Struct:
		parts := make([]string, a.NumField())
		for k := range parts {
			f := a.Field(k)
			if f.IsNull(i) {
				parts[k] = "null"
			} else {
				parts[k] = valueString(f, i)
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return arr.ValueStr(i)
}

func listString(vals arrow.Array, lo, hi int) string {
	var b strings.Builder
	b.WriteByte('[')
	for k := lo; k < hi; k++ {
		if k > lo {
			b.WriteByte(',')
		}
		if vals.IsNull(k) {
			b.WriteString("null")
		} else {
			b.WriteString(valueString(vals, k))
		}
		if b.Len() > 4*showWidth {
			// Show truncates at 20 characters anyway; do not format a 784-element vector.
			b.WriteString(",...")
			break
		}
	}
	b.WriteByte(']')
	return b.String()
}

func hexBytes(v []byte) string {
	var b strings.Builder
	b.WriteByte('[')
	for k, x := range v {
		if k > 0 {
			b.WriteByte(' ')
		}
		if k >= showWidth {
			b.WriteString("...")
			break
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	b.WriteByte(']')
	return b.String()
}

// formatDouble mimics Java's Double.toString, which is what Spark users expect to see: a
// decimal with at least one fractional digit in [1e-3, 1e7), scientific notation outside.
func formatDouble(v float64, bits int) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	abs := math.Abs(v)
	if v == 0 || (abs >= 1e-3 && abs < 1e7) {
		s := strconv.FormatFloat(v, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'E', -1, bits)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}
