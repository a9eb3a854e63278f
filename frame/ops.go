package frame

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Select keeps the named columns, in the given order.
func (df *DataFrame) Select(cols ...string) (*DataFrame, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("frame: Select: no columns named")
	}
	idx, err := df.indices(cols)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c] {
			return nil, fmt.Errorf("frame: Select: column %q named twice", c)
		}
		seen[c] = true
	}
	return df.project("Select", idx), nil
}

func (df *DataFrame) project(name string, idx []int) *DataFrame {
	fields := make([]arrow.Field, len(idx))
	for i, j := range idx {
		fields[i] = df.schema.Field(j)
	}
	schema := arrow.NewSchema(fields, nil)
	return df.derive(name, schema, true, func() stepFunc {
		cols := make([]arrow.Array, len(idx))
		return func(in arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
			for i, j := range idx {
				cols[i] = in.Column(j)
			}
			return array.NewRecordBatch(schema, cols, in.NumRows()), false, nil
		}
	})
}

// Drop removes the named columns. Unlike Spark, naming a column that does not exist is an
// error, since it is almost always a typo.
func (df *DataFrame) Drop(cols ...string) (*DataFrame, error) {
	drop := map[int]bool{}
	for _, c := range cols {
		j, err := df.index(c)
		if err != nil {
			return nil, err
		}
		drop[j] = true
	}
	var keep []int
	for j := range df.schema.Fields() {
		if !drop[j] {
			keep = append(keep, j)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("frame: Drop: dropping %s leaves no columns", strings.Join(cols, ", "))
	}
	return df.project("Drop", keep), nil
}

// WithColumnRenamed renames column old to name.
func (df *DataFrame) WithColumnRenamed(old, name string) (*DataFrame, error) {
	j, err := df.index(old)
	if err != nil {
		return nil, err
	}
	if k := df.schema.FieldIndices(name); len(k) > 0 && k[0] != j {
		return nil, fmt.Errorf("frame: WithColumnRenamed: column %q already exists", name)
	}
	fields := append([]arrow.Field(nil), df.schema.Fields()...)
	fields[j].Name = name
	schema := arrow.NewSchema(fields, nil)
	return df.derive("WithColumnRenamed", schema, true, func() stepFunc {
		return func(in arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
			return array.NewRecordBatch(schema, in.Columns(), in.NumRows()), false, nil
		}
	}), nil
}

// WithColumn adds column name of type typ computed batch by batch from the input columns, or
// replaces it in place if it exists. fn receives the input columns of one record batch (valid
// only during the call) and returns a new array of typ with as many rows; this is the form
// feature stages use. Errors from fn surface at the action that runs the plan.
func (df *DataFrame) WithColumn(name string, typ arrow.DataType, inputs []string, fn func(cols []arrow.Array) (arrow.Array, error)) (*DataFrame, error) {
	return df.withColumn("WithColumn", arrow.Field{Name: name, Type: typ, Nullable: true}, inputs, fn)
}

// WithColumnField is WithColumn for a column described by a whole field: its metadata (such
// as Spark ML's "ml_attr" that StringIndexer writes) and nullability are kept as given, and a
// non-nullable field rejects arrays with nulls. Like WithColumn it keeps rows one for one, so
// Count on the result does not run fn.
func (df *DataFrame) WithColumnField(field arrow.Field, inputs []string, fn func(cols []arrow.Array) (arrow.Array, error)) (*DataFrame, error) {
	return df.withColumn("WithColumnField", field, inputs, fn)
}

func (df *DataFrame) withColumn(who string, field arrow.Field, inputs []string, fn func(cols []arrow.Array) (arrow.Array, error)) (*DataFrame, error) {
	if field.Name == "" {
		return nil, fmt.Errorf("frame: %s: empty column name", who)
	}
	if field.Type == nil {
		return nil, fmt.Errorf("frame: %s %q: nil type", who, field.Name)
	}
	if fn == nil {
		return nil, fmt.Errorf("frame: %s %q: nil function", who, field.Name)
	}
	idx, err := df.indices(inputs)
	if err != nil {
		return nil, err
	}
	typ := field.Type
	schema, pos := withField(df.schema, field)
	step := fmt.Sprintf("%s %q", who, field.Name)
	return df.derive(step, schema, true, func() stepFunc {
		in := make([]arrow.Array, len(idx))
		return func(rec arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
			for i, j := range idx {
				in[i] = rec.Column(j)
			}
			out, err := fn(in)
			if err != nil {
				return nil, false, err
			}
			if out == nil {
				return nil, false, fmt.Errorf("function returned no array")
			}
			defer out.Release()
			if !arrow.TypeEqual(out.DataType(), typ) {
				return nil, false, fmt.Errorf("function returned %s, want %s", out.DataType(), typ)
			}
			if int64(out.Len()) != rec.NumRows() {
				return nil, false, fmt.Errorf("function returned %d rows for a batch of %d", out.Len(), rec.NumRows())
			}
			if !field.Nullable && out.NullN() > 0 {
				return nil, false, fmt.Errorf("function returned %d null(s) for a non-nullable column", out.NullN())
			}
			return withArray(schema, rec, pos, out), false, nil
		}
	}), nil
}

// withField returns s with f appended, or replacing the field of the same name, and f's
// position.
func withField(s *arrow.Schema, f arrow.Field) (*arrow.Schema, int) {
	fields := append([]arrow.Field(nil), s.Fields()...)
	md := s.Metadata()
	if k := s.FieldIndices(f.Name); len(k) > 0 {
		fields[k[0]] = f
		return arrow.NewSchema(fields, &md), k[0]
	}
	return arrow.NewSchema(append(fields, f), &md), len(fields)
}

func withArray(schema *arrow.Schema, rec arrow.RecordBatch, pos int, a arrow.Array) arrow.RecordBatch {
	cols := append([]arrow.Array(nil), rec.Columns()...)
	if pos == len(cols) {
		cols = append(cols, a)
	} else {
		cols[pos] = a
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows())
}

// WithColumnFloat64 adds (or replaces) a Float64 column computed row by row from numeric input
// columns: fn receives the row's inputs in order, nulls as NaN. The row slice is reused; do not
// keep it.
func (df *DataFrame) WithColumnFloat64(name string, inputs []string, fn func(row []float64) float64) (*DataFrame, error) {
	idx, err := df.indices(inputs)
	if err != nil {
		return nil, err
	}
	for i, j := range idx {
		if !IsNumeric(df.schema.Field(j).Type) {
			return nil, fmt.Errorf("frame: WithColumnFloat64 %q: input %q is %s, want a numeric column", name, inputs[i], df.schema.Field(j).Type)
		}
	}
	return df.WithColumn(name, arrow.PrimitiveTypes.Float64, inputs, func(cols []arrow.Array) (arrow.Array, error) {
		n := 0
		if len(cols) > 0 {
			n = cols[0].Len()
		}
		vals := make([][]float64, len(cols))
		for i, c := range cols {
			v, err := ToFloat64(nil, c)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		out := make([]float64, n)
		row := make([]float64, len(cols))
		for r := range out {
			for i := range vals {
				row[i] = vals[i][r]
			}
			out[r] = fn(row)
		}
		return float64Array(out), nil
	})
}

// WithColumnString adds (or replaces) a String column computed row by row: fn receives the
// row's inputs formatted as text (String columns as they are, nulls as ""). The row slice is
// reused; do not keep it.
func (df *DataFrame) WithColumnString(name string, inputs []string, fn func(row []string) string) (*DataFrame, error) {
	return df.WithColumn(name, arrow.BinaryTypes.String, inputs, func(cols []arrow.Array) (arrow.Array, error) {
		n := 0
		if len(cols) > 0 {
			n = cols[0].Len()
		}
		b := array.NewStringBuilder(alloc)
		defer b.Release()
		b.Reserve(n)
		row := make([]string, len(cols))
		for r := 0; r < n; r++ {
			for i, c := range cols {
				if c.IsNull(r) {
					row[i] = ""
				} else {
					row[i] = valueString(c, r)
				}
			}
			b.Append(fn(row))
		}
		return b.NewArray(), nil
	})
}

// MapBatches applies fn to every record batch. fn borrows its input (valid only during the
// call) and returns a record with the given schema (names and types must match); it may
// return its input, and may change the number of rows. This is the general escape hatch for
// steps the typed methods do not cover.
func (df *DataFrame) MapBatches(schema *arrow.Schema, fn func(arrow.RecordBatch) (arrow.RecordBatch, error)) (*DataFrame, error) {
	if schema == nil || schema.NumFields() == 0 {
		return nil, fmt.Errorf("frame: MapBatches: empty schema")
	}
	return df.derive("MapBatches", schema, false, func() stepFunc {
		return func(in arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
			out, err := fn(in)
			if err != nil || out == nil {
				if out != nil && out != in {
					out.Release()
				}
				return nil, false, err
			}
			if out == in {
				out.Retain()
			}
			if !sameColumns(schema, out.Schema()) {
				got := out.Schema()
				out.Release()
				return nil, false, fmt.Errorf("function returned schema %s, want %s", got, schema)
			}
			rec := array.NewRecordBatch(schema, out.Columns(), out.NumRows())
			out.Release()
			return rec, false, nil
		}
	}), nil
}

// Row is a read-only view of one row's selected columns, passed to Filter's predicate. j
// indexes the columns named in the Filter call.
type Row struct {
	cols []arrow.Array
	i    int
}

// IsNull reports whether column j is null in this row.
func (r Row) IsNull(j int) bool { return r.cols[j].IsNull(r.i) }

// Float64 reads a numeric or Boolean column; null or other types read as NaN.
func (r Row) Float64(j int) float64 {
	v, _ := float64At(r.cols[j], r.i)
	return v
}

// Int64 reads an integer column (floats truncate); null or other types read as 0.
func (r Row) Int64(j int) int64 {
	v, _ := int64At(r.cols[j], r.i)
	return v
}

// Bool reads a Boolean column (numbers are true when non-zero); null reads as false.
func (r Row) Bool(j int) bool {
	if b, ok := r.cols[j].(*array.Boolean); ok {
		return b.IsValid(r.i) && b.Value(r.i)
	}
	v, ok := float64At(r.cols[j], r.i)
	return ok && v != 0
}

// String reads a String column as is and formats any other type as Show does; null reads
// as "".
func (r Row) String(j int) string {
	if r.cols[j].IsNull(r.i) {
		return ""
	}
	return valueString(r.cols[j], r.i)
}

// Vector returns a vector column's values (aliasing the batch; do not modify or keep them),
// or nil for null or non-vector columns.
func (r Row) Vector(j int) []float64 {
	if r.cols[j].IsNull(r.i) {
		return nil
	}
	v, n, err := VectorValues(r.cols[j])
	if err != nil {
		return nil
	}
	return v[r.i*n : (r.i+1)*n]
}

// Filter keeps the rows for which pred returns true. pred sees the columns named in cols,
// in that order.
func (df *DataFrame) Filter(cols []string, pred func(Row) bool) (*DataFrame, error) {
	idx, err := df.indices(cols)
	if err != nil {
		return nil, err
	}
	return df.derive("Filter", df.schema, false, func() stepFunc {
		in := make([]arrow.Array, len(idx))
		var keep []bool
		return func(rec arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
			for i, j := range idx {
				in[i] = rec.Column(j)
			}
			n := int(rec.NumRows())
			keep = resizeBools(keep, n)
			for r := 0; r < n; r++ {
				keep[r] = pred(Row{cols: in, i: r})
			}
			out, err := filterRecord(rec, keep)
			return out, false, err
		}
	}), nil
}

func resizeBools(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	return b[:n]
}

// filterRecord returns the rows of rec where keep is true (nil when none are), slicing
// instead of copying when the kept rows are contiguous.
func filterRecord(rec arrow.RecordBatch, keep []bool) (arrow.RecordBatch, error) {
	first, last, count := -1, -1, 0
	for i, k := range keep {
		if k {
			if first < 0 {
				first = i
			}
			last = i
			count++
		}
	}
	switch {
	case count == 0:
		return nil, nil
	case count == len(keep):
		rec.Retain()
		return rec, nil
	case last-first+1 == count:
		return rec.NewSlice(int64(first), int64(last+1)), nil
	}
	b := array.NewBooleanBuilder(alloc)
	defer b.Release()
	b.AppendValues(keep, nil)
	mask := b.NewArray()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(context.Background(), rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, fmt.Errorf("filtering rows: %w", err)
	}
	return out, nil
}

// splitmix64 is a bijective mixer: distinct inputs give distinct, well-spread outputs, which
// is all a per-row coin needs.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rowCoin returns a uniform value in [0, 1) that depends only on the seed, the purpose and the
// row's global index, never on batch boundaries, so splits and samples of a stream agree with
// those of the same rows in memory.
func rowCoin(seed, purpose, row uint64) float64 {
	h := splitmix64(splitmix64(seed^purpose) ^ row)
	return float64(h>>11) * 0x1p-53
}

const (
	purposeSplit  = 0x53504c4954 // "SPLIT"
	purposeSample = 0x53414d504c // "SAMPL"
)

// rowSelector builds a step that keeps the rows for which keep(globalRow) is true; the row
// counter lives in the step instance, so every execution starts from row 0.
func (df *DataFrame) rowSelector(name string, keep func(row uint64) bool) *DataFrame {
	return df.derive(name, df.schema, false, func() stepFunc {
		var row uint64
		var mask []bool
		return func(rec arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
			n := int(rec.NumRows())
			mask = resizeBools(mask, n)
			for i := range mask {
				mask[i] = keep(row)
				row++
			}
			out, err := filterRecord(rec, mask)
			return out, false, err
		}
	})
}

// RandomSplit divides the rows into len(weights) frames with about those proportions (the
// weights are normalised). Each row goes to one frame, chosen by a hash of the seed and the
// row's position in df, so the frames are disjoint, together cover every row, come out the
// same for the same seed, and do not depend on batch sizes or on whether df is streamed.
// Each returned frame re-runs df's plan; Collect df first if it is expensive.
func (df *DataFrame) RandomSplit(weights []float64, seed uint64) ([]*DataFrame, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("frame: RandomSplit: no weights")
	}
	total := 0.0
	for _, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("frame: RandomSplit: weights %v: want finite non-negative numbers", weights)
		}
		total += w
	}
	if total <= 0 {
		return nil, fmt.Errorf("frame: RandomSplit: weights %v sum to zero", weights)
	}
	bounds := make([]float64, len(weights))
	acc := 0.0
	for i, w := range weights {
		acc += w
		bounds[i] = acc / total
	}
	bounds[len(bounds)-1] = 1
	bucket := func(row uint64) int {
		u := rowCoin(seed, purposeSplit, row)
		for k, b := range bounds {
			if u < b {
				return k
			}
		}
		return len(bounds) - 1
	}
	out := make([]*DataFrame, len(weights))
	for k := range weights {
		out[k] = df.rowSelector(fmt.Sprintf("RandomSplit[%d]", k), func(row uint64) bool { return bucket(row) == k })
	}
	return out, nil
}

// Sample keeps each row with probability fraction (a Bernoulli sample without replacement),
// decided by a hash of the seed and the row's position, so it is repeatable and streams.
func (df *DataFrame) Sample(fraction float64, seed uint64) (*DataFrame, error) {
	if !(fraction >= 0 && fraction <= 1) {
		return nil, fmt.Errorf("frame: Sample(%v): want a fraction in [0, 1]", fraction)
	}
	return df.rowSelector("Sample", func(row uint64) bool { return rowCoin(seed, purposeSample, row) < fraction }), nil
}

// Shard keeps the rows whose position modulo worldSize is rank: the shards of one frame are
// disjoint, cover every row, and differ in size by at most one row, which is what data-parallel
// workers need to run the same number of steps. Every worker still reads the whole input.
func (df *DataFrame) Shard(rank, worldSize int) (*DataFrame, error) {
	if worldSize < 1 || rank < 0 || rank >= worldSize {
		return nil, fmt.Errorf("frame: Shard(%d, %d): want 0 <= rank < worldSize", rank, worldSize)
	}
	w, r := uint64(worldSize), uint64(rank)
	return df.rowSelector(fmt.Sprintf("Shard(%d/%d)", rank, worldSize), func(row uint64) bool { return row%w == r }), nil
}

// Limit keeps the first n rows and stops reading the input once it has them.
func (df *DataFrame) Limit(n int64) (*DataFrame, error) {
	if n < 0 {
		return nil, fmt.Errorf("frame: Limit(%d): want n >= 0", n)
	}
	out := df.derive("Limit", df.schema, false, func() stepFunc {
		left := n
		return func(rec arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
			if left <= 0 {
				return nil, true, nil
			}
			m := rec.NumRows()
			if m < left {
				left -= m
				rec.Retain()
				return rec, false, nil
			}
			out := rec.NewSlice(0, left)
			left = 0
			return out, true, nil
		}
	})
	if total, ok := df.plan.rows(); ok {
		// The count is known, so Count need not run the plan.
		out.plan = &knownRows{node: out.plan, n: min(n, total)}
	}
	return out, nil
}

type knownRows struct {
	node
	n int64
}

func (k *knownRows) rows() (int64, bool) { return k.n, true }

// JoinType selects the rows a Join keeps.
type JoinType int

const (
	// Inner keeps pairs of rows whose keys are equal.
	Inner JoinType = iota
	// Left keeps every row of the left frame; rows without a match get nulls in the right
	// frame's columns.
	Left
)

func (j JoinType) String() string {
	if j == Left {
		return "Left"
	}
	return "Inner"
}

type keyKind int

const (
	keyInt keyKind = iota
	keyFloat
	keyString
	keyBool
)

func kindOf(dt arrow.DataType) (keyKind, bool) {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return keyInt, true
	case arrow.FLOAT32, arrow.FLOAT64:
		return keyFloat, true
	case arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return keyString, true
	case arrow.BOOL:
		return keyBool, true
	}
	return 0, false
}

// Join matches rows of df and other whose columns on are equal (a hash join). The result has
// df's columns, then other's columns except the keys; rows come in df's order, and a row
// with several matches is repeated once per match in other's order. Null keys never match.
// Integer and float keys compare as numbers. other is read into memory when the plan runs,
// so put the smaller frame on the right. Columns other than the keys must not share names;
// rename one side first (WithColumnRenamed).
func (df *DataFrame) Join(other *DataFrame, on []string, how JoinType) (*DataFrame, error) {
	if len(on) == 0 {
		return nil, fmt.Errorf("frame: Join: no key columns")
	}
	if how != Inner && how != Left {
		return nil, fmt.Errorf("frame: Join: unknown join type %d", int(how))
	}
	li, err := df.indices(on)
	if err != nil {
		return nil, err
	}
	ri, err := other.indices(on)
	if err != nil {
		return nil, err
	}
	kinds := make([]keyKind, len(on))
	for k := range on {
		lt, rt := df.schema.Field(li[k]).Type, other.schema.Field(ri[k]).Type
		lk, ok1 := kindOf(lt)
		rk, ok2 := kindOf(rt)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("frame: Join: key %q is %s on the left and %s on the right; keys must be numbers, strings or booleans", on[k], lt, rt)
		}
		switch {
		case lk == rk:
			kinds[k] = lk
		case (lk == keyInt && rk == keyFloat) || (lk == keyFloat && rk == keyInt):
			kinds[k] = keyFloat
		default:
			return nil, fmt.Errorf("frame: Join: key %q is %s on the left but %s on the right", on[k], lt, rt)
		}
	}
	isKey := map[int]bool{}
	for _, j := range ri {
		isKey[j] = true
	}
	fields := append([]arrow.Field(nil), df.schema.Fields()...)
	var rightCols []int
	for j, f := range other.schema.Fields() {
		if isKey[j] {
			continue
		}
		if len(df.schema.FieldIndices(f.Name)) > 0 {
			return nil, fmt.Errorf("frame: Join: column %q is in both frames; rename one side (WithColumnRenamed) first", f.Name)
		}
		if how == Left {
			f.Nullable = true
		}
		fields = append(fields, f)
		rightCols = append(rightCols, j)
	}
	j := &joinNode{left: df.plan, right: other.plan, rightSchema: other.schema, schema: arrow.NewSchema(fields, nil),
		li: li, ri: ri, kinds: kinds, rightCols: rightCols, how: how}
	return newFrame(j.schema, df.nparts, j), nil
}

type joinNode struct {
	left, right node
	rightSchema *arrow.Schema
	schema      *arrow.Schema
	li, ri      []int
	kinds       []keyKind
	rightCols   []int
	how         JoinType
}

func (j *joinNode) rows() (int64, bool) { return 0, false }

// appendKey encodes row i's key columns so that equal keys give equal bytes; ok is false when
// a key is null.
func appendKey(buf []byte, cols []arrow.Array, kinds []keyKind, i int) ([]byte, bool) {
	for k, c := range cols {
		if c.IsNull(i) {
			return buf, false
		}
		switch kinds[k] {
		case keyInt:
			v, _ := int64At(c, i)
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
		case keyFloat:
			v, _ := float64At(c, i)
			if v == 0 {
				v = 0 // -0 and +0 are the same key
			}
			if math.IsNaN(v) {
				v = math.NaN()
			}
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		case keyBool:
			v, _ := float64At(c, i)
			buf = append(buf, byte(v))
		case keyString:
			var s []byte
			switch a := c.(type) {
			case *array.String:
				s = []byte(a.Value(i))
			case *array.Binary:
				s = a.Value(i)
			case *array.LargeString:
				s = []byte(a.Value(i))
			case *array.LargeBinary:
				s = a.Value(i)
			}
			buf = binary.LittleEndian.AppendUint64(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
	}
	return buf, true
}

func (j *joinNode) open(ctx context.Context) (stream, error) {
	right, err := collectOne(ctx, j.right, j.rightSchema)
	if err != nil {
		return nil, fmt.Errorf("frame: Join: reading the right frame: %w", err)
	}
	keyCols := make([]arrow.Array, len(j.ri))
	for k, c := range j.ri {
		keyCols[k] = right.Column(c)
	}
	table := map[string][]int32{}
	var buf []byte
	for i := 0; i < int(right.NumRows()); i++ {
		var ok bool
		buf, ok = appendKey(buf[:0], keyCols, j.kinds, i)
		if ok {
			table[string(buf)] = append(table[string(buf)], int32(i))
		}
	}
	left, err := j.left.open(ctx)
	if err != nil {
		right.Release()
		return nil, err
	}
	return &joinStream{j: j, left: left, right: right, table: table}, nil
}

// collectOne runs a plan and concatenates its output into a single record.
func collectOne(ctx context.Context, n node, schema *arrow.Schema) (arrow.RecordBatch, error) {
	s, err := n.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	var recs []arrow.RecordBatch
	defer func() { releaseAll(recs) }()
	for {
		b, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, b.rec)
	}
	return concatRecords(schema, recs)
}

func concatRecords(schema *arrow.Schema, recs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for c := range cols {
		if len(recs) == 0 {
			cols[c] = array.MakeArrayOfNull(alloc, schema.Field(c).Type, 0)
			continue
		}
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(c)
		}
		a, err := array.Concatenate(parts, alloc)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", schema.Field(c).Name, err)
		}
		cols[c] = a
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}

type joinStream struct {
	j      *joinNode
	left   stream
	right  arrow.RecordBatch
	table  map[string][]int32
	buf    []byte
	lidx   []int64
	ridx   []int64
	rvalid []bool
}

func (s *joinStream) next() (batch, error) {
	for {
		b, err := s.left.next()
		if err != nil {
			return batch{}, err
		}
		out, err := s.join(b.rec)
		b.rec.Release()
		if err != nil {
			return batch{}, fmt.Errorf("frame: Join: %w", err)
		}
		if out == nil {
			continue
		}
		return batch{rec: out, part: b.part}, nil
	}
}

func (s *joinStream) join(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	j := s.j
	keyCols := make([]arrow.Array, len(j.li))
	for k, c := range j.li {
		keyCols[k] = rec.Column(c)
	}
	s.lidx, s.ridx, s.rvalid = s.lidx[:0], s.ridx[:0], s.rvalid[:0]
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		var ok bool
		s.buf, ok = appendKey(s.buf[:0], keyCols, j.kinds, i)
		var matches []int32
		if ok {
			matches = s.table[string(s.buf)]
		}
		for _, m := range matches {
			s.lidx = append(s.lidx, int64(i))
			s.ridx = append(s.ridx, int64(m))
			s.rvalid = append(s.rvalid, true)
		}
		if len(matches) == 0 && j.how == Left {
			s.lidx = append(s.lidx, int64(i))
			s.ridx = append(s.ridx, 0)
			s.rvalid = append(s.rvalid, false)
		}
	}
	if len(s.lidx) == 0 {
		return nil, nil
	}
	identity := len(s.lidx) == n
	for i, v := range s.lidx {
		if !identity || v != int64(i) {
			identity = false
			break
		}
	}
	ctx := context.Background()
	cols := make([]arrow.Array, 0, j.schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	if identity {
		for _, c := range rec.Columns() {
			c.Retain()
			cols = append(cols, c)
		}
	} else {
		li := int64Array(s.lidx, nil)
		defer li.Release()
		for _, c := range rec.Columns() {
			t, err := compute.TakeArray(ctx, c, li)
			if err != nil {
				return nil, err
			}
			cols = append(cols, t)
		}
	}
	valid := s.rvalid
	allValid := true
	for _, v := range valid {
		allValid = allValid && v
	}
	if allValid {
		valid = nil
	}
	ri := int64Array(s.ridx, valid)
	defer ri.Release()
	for _, c := range j.rightCols {
		t, err := compute.TakeArray(ctx, s.right.Column(c), ri)
		if err != nil {
			return nil, err
		}
		cols = append(cols, t)
	}
	return array.NewRecordBatch(j.schema, cols, int64(len(s.lidx))), nil
}

// float64Array wraps vals as a Float64 array without copying.
func float64Array(vals []float64) arrow.Array {
	data := array.NewData(arrow.PrimitiveTypes.Float64, len(vals),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(vals))}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

func int64Array(v []int64, valid []bool) arrow.Array {
	b := array.NewInt64Builder(alloc)
	defer b.Release()
	b.AppendValues(v, valid)
	return b.NewArray()
}

func (s *joinStream) close() {
	s.left.close()
	if s.right != nil {
		s.right.Release()
		s.right = nil
	}
}
