package feature

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepframe/deepframe/frame"
)

func gray(origin string, h, w int, px ...byte) frame.Image {
	return frame.Image{Origin: origin, Height: h, Width: w, Channels: 1, Mode: "L", Data: px}
}

func rgb(origin string, h, w int, px ...byte) frame.Image {
	return frame.Image{Origin: origin, Height: h, Width: w, Channels: 3, Mode: "RGB", Data: px}
}

func imageFrame(t *testing.T, imgs ...frame.Image) *frame.DataFrame {
	t.Helper()
	return mustFrame(t, frame.Col("image", imgs))
}

func TestResizeBilinear(t *testing.T) {
	cases := []struct {
		name string
		in   frame.Image
		h, w int
		want string
	}{
		// Upscaling 1x2 -> 1x4 samples at x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
		{"up", gray("a", 1, 2, 0, 100), 1, 4, "1x4x1[0 25 75 100]"},
		// Downscaling 1x4 -> 1x2 samples at 0.5 and 2.5: (0+100)/2, (200+255)/2 = 227.5 -> 228.
		{"down", gray("b", 1, 4, 0, 100, 200, 255), 1, 2, "1x2x1[50 228]"},
		// 2x2 -> 3x3 samples at -1/6 (clamped to 0), 0.5 and 7/6 (clamped to 1) on both axes;
		// the centre averages all four pixels.
		{"2d", gray("c", 2, 2, 0, 60, 120, 180), 3, 3, "3x3x1[0 30 60 60 90 120 120 150 180]"},
		{"same size", rgb("d", 1, 1, 1, 2, 3), 1, 1, "1x1x3[1 2 3]"},
		{"rgb channels apart", rgb("e", 1, 2, 0, 10, 200, 100, 110, 0), 1, 4, "1x4x3[0 10 200 25 35 150 75 85 50 100 110 0]"},
	}
	for _, c := range cases {
		out, err := NewResize(c.h, c.w).Transform(bg, imageFrame(t, c.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := cells(t, out, "image")[0]; got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestCropsAndFlip(t *testing.T) {
	// 3x4 gray image with pixel value 10*y + x.
	var px []byte
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			px = append(px, byte(10*y+x))
		}
	}
	img := gray("g", 3, 4, px...)
	df := imageFrame(t, img)
	out, err := NewCenterCrop(2, 2).Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	// Offsets (3-2)/2 = 0 and (4-2)/2 = 1.
	if got := cells(t, out, "image")[0]; got != "2x2x1[1 2 11 12]" {
		t.Errorf("center crop: %s", got)
	}
	out, err = NewHorizontalFlip(1, 7).Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, out, "image")[0]; got != "3x4x1[3 2 1 0 13 12 11 10 23 22 21 20]" {
		t.Errorf("flip: %s", got)
	}
	out, err = NewHorizontalFlip(0, 7).Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, out, "image")[0]; got != cell0(t, df) {
		t.Errorf("flip with prob 0 changed the image: %s", got)
	}
	rgbImg := rgb("c", 1, 2, 1, 2, 3, 4, 5, 6)
	out, err = NewHorizontalFlip(1, 0).Transform(bg, imageFrame(t, rgbImg))
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, out, "image")[0]; got != "1x2x3[4 5 6 1 2 3]" {
		t.Errorf("flip keeps channel order: %s", got)
	}
	out, err = NewCenterCrop(4, 4).Transform(bg, df)
	wantErr(t, "crop too big", runErr(out, err), `image "g" is 3x4`, "smaller than the 4x4 crop")
}

func cell0(t *testing.T, df *frame.DataFrame) string { return cells(t, df, "image")[0] }

func TestRandomStagesDeterministic(t *testing.T) {
	var imgs []frame.Image
	for i := 0; i < 40; i++ {
		px := make([]byte, 5*6)
		for j := range px {
			px[j] = byte(i*7 + j)
		}
		imgs = append(imgs, gray(fmt.Sprintf("img%d", i), 5, 6, px...))
	}
	df := imageFrame(t, imgs...)
	split, err := df.Repartition(7) // other batch boundaries must not change the draws
	if err != nil {
		t.Fatal(err)
	}
	run := func(s ImageStage, d *frame.DataFrame) []string {
		out, err := s.Transform(bg, d)
		if err != nil {
			t.Fatal(err)
		}
		return cells(t, out, "image")
	}
	for _, mk := range []func(seed int64) ImageStage{
		func(seed int64) ImageStage { return NewRandomCrop(3, 3, seed) },
		func(seed int64) ImageStage { return NewHorizontalFlip(0.5, seed) },
	} {
		a, b, c := run(mk(1), df), run(mk(1), split), run(mk(2), df)
		if !eqStrings(a, b) {
			t.Errorf("%T: batching changed the result", mk(1))
		}
		if eqStrings(a, c) {
			t.Errorf("%T: another seed gave the same result", mk(1))
		}
		changed := 0
		for i := range a {
			if a[i] != cells(t, df, "image")[i] {
				changed++
			}
		}
		if _, flip := mk(1).(*HorizontalFlip); flip && (changed < 8 || changed > 32) {
			t.Errorf("flip with prob 0.5 changed %d of 40 images", changed)
		}
	}
	// Every random crop is a window of the source.
	out, _ := NewRandomCrop(3, 3, 9).Transform(bg, df)
	crops := cells(t, out, "image")
	offsets := map[string]bool{}
	for i, img := range imgs {
		found := false
		for y := 0; y <= 2 && !found; y++ {
			for x := 0; x <= 3 && !found; x++ {
				p := crop(pixelsOf(img), y, x, 3, 3)
				if fmt.Sprintf("3x3x1%v", p.data) == crops[i] {
					found = true
					offsets[fmt.Sprint(y, x)] = true
				}
			}
		}
		if !found {
			t.Fatalf("crop %d is not a window of its image: %s", i, crops[i])
		}
	}
	if len(offsets) < 4 {
		t.Errorf("only %d distinct crop positions over 40 images", len(offsets))
	}
}

func TestToTensorAndNormalize(t *testing.T) {
	df := imageFrame(t, rgb("a", 1, 2, 0, 51, 255, 102, 204, 153))
	out, err := NewToTensor().SetOutputCol("t").Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{0, 0.2, 1, 0.4, 0.8, 0.6}}
	if got := vectors(t, out, "t"); !closeTo(got, want, 1e-15) {
		t.Errorf("ToTensor %v, want %v", got, want)
	}
	// (v - mean[c]) / std[c] per channel, HWC order.
	mean, std := []float64{0.5, 0.25, 0}, []float64{0.5, 0.25, 2}
	norm := [][]float64{{-1, -0.2, 0.5, -0.2, 2.2, 0.3}}
	after, err := NewChannelNormalize(mean, std).SetInputCol("t").Transform(bg, out)
	if err != nil {
		t.Fatal(err)
	}
	if got := vectors(t, after, "t"); !closeTo(got, norm, 1e-15) {
		t.Errorf("ChannelNormalize after ToTensor %v, want %v", got, norm)
	}
	for _, order := range [][]ImageStage{
		{NewChannelNormalize(mean, std), NewToTensor()},
		{NewToTensor(), NewChannelNormalize(mean, std)},
	} {
		chained, err := NewChainedPreprocessing(order...).SetOutputCol("t").Transform(bg, df)
		if err != nil {
			t.Fatal(err)
		}
		if got := vectors(t, chained, "t"); !closeTo(got, norm, 1e-15) {
			t.Errorf("chain %T first: %v, want %v", order[0], got, norm)
		}
	}
	// One mean and std for every channel.
	one, err := NewChainedPreprocessing(NewToTensor(), NewChannelNormalize([]float64{0.5}, []float64{0.5})).Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := vectors(t, one, "image"); !closeTo(got, [][]float64{{-1, -0.6, 1, -0.2, 0.6, 0.2}}, 1e-15) {
		t.Errorf("single-channel normalisation in place: %v", got)
	}
}

func TestChainEqualsStages(t *testing.T) {
	var imgs []frame.Image
	for i := 0; i < 6; i++ {
		h, w := 6+i, 9-i
		px := make([]byte, h*w*3)
		for j := range px {
			px[j] = byte((i + 1) * j * 13)
		}
		imgs = append(imgs, rgb(fmt.Sprint("p", i), h, w, px...))
	}
	df := imageFrame(t, imgs...)
	mean, std := []float64{0.4, 0.5, 0.6}, []float64{0.2, 0.3, 0.25}
	stages := []ImageStage{NewResize(8, 8), NewRandomCrop(6, 6, 3), NewHorizontalFlip(0.5, 4), NewCenterCrop(4, 5), NewToTensor(), NewChannelNormalize(mean, std)}
	cur := df
	for _, s := range stages {
		var err error
		if cur, err = s.Transform(bg, cur); err != nil {
			t.Fatal(err)
		}
	}
	chained, err := NewChainedPreprocessing(stages...).Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	a, b := vectors(t, cur, "image"), vectors(t, chained, "image")
	if !closeTo(a, b, 0) || len(a) != 6 || len(a[0]) != 4*5*3 {
		t.Errorf("stage by stage and chained differ (%d rows of %d)", len(a), len(a[0]))
	}
	for _, row := range b {
		for _, v := range row {
			if math.IsNaN(v) {
				t.Fatal("NaN in a tensor")
			}
		}
	}
}

func TestImageNullsAndErrors(t *testing.T) {
	b := frame.NewImageBuilder()
	b.Append(gray("ok", 2, 2, 1, 2, 3, 4))
	b.AppendNull()
	b.AppendInvalid("broken.png")
	arr := b.NewArray()
	b.Release()
	df := mustFrame(t, frame.Col("image", arr), frame.Col("v", [][]float64{{1}, {2}, {3}}))
	out, err := NewResize(1, 1).Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, out, "image"); !eqStrings(got, []string{"1x1x1[3]", "null", "invalid(broken.png)"}) {
		t.Errorf("resize with nulls: %v", got)
	}
	out, err = NewToTensor().Transform(bg, df)
	if err != nil {
		t.Fatal(err)
	}
	if got := cells(t, out, "image"); got[1] != "null" || got[2] != "null" {
		t.Errorf("ToTensor of null and broken images: %v", got)
	}

	mixed := imageFrame(t, gray("small", 1, 1, 5), gray("big", 2, 1, 5, 6))
	cases := []struct {
		name  string
		s     ImageStage
		df    *frame.DataFrame
		wants []string
	}{
		{"spatial after ToTensor", NewChainedPreprocessing(NewToTensor(), NewResize(2, 2)), df, []string{"comes after ToTensor", "put it before ToTensor"}},
		{"normalize images", NewChainedPreprocessing(NewChannelNormalize([]float64{0.5}, []float64{0.5})), df, []string{"ChannelNormalize needs the values ToTensor makes"}},
		{"two ToTensor", NewChainedPreprocessing(NewToTensor(), NewToTensor()), df, []string{"ToTensor appears twice"}},
		{"sizes differ", NewToTensor(), mixed, []string{`image "big" is 2x1x1`, "holds 1x1x1", "resize or crop"}},
		{"not an image", NewResize(2, 2).SetInputCol("v"), df, []string{`"v" is a vector`, "only ChannelNormalize"}},
		{"unknown column", NewToTensor().SetInputCol("img"), df, []string{`no column "img"`, "columns: image, v"}},
		{"channels", NewChainedPreprocessing(NewToTensor(), NewChannelNormalize([]float64{0.1, 0.2}, []float64{1, 1})), df, []string{"2 means for 1 channels"}},
		{"bad std", NewChannelNormalize([]float64{0.1}, []float64{0}), df, []string{"param std", "positive"}},
		{"bad size", NewResize(0, 3), df, []string{"param height = 0", "[1, 16384]"}},
		{"bad prob", NewHorizontalFlip(1.5, 0), df, []string{"param prob = 1.5", "[0, 1]"}},
	}
	for _, c := range cases {
		out, err := c.s.Transform(bg, c.df)
		wantErr(t, c.name, runErr(out, err), c.wants...)
	}
}
