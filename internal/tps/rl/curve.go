package rl

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteCurveSVG draws a learning curve — one value per training iteration (the mean episode
// reward) and its moving average — as a standalone SVG.
func WriteCurveSVG(w io.Writer, title string, values []float64) error {
	const (
		width, height         = 720.0, 400.0
		left, right, top, bot = 70.0, 20.0, 40.0, 50.0
		plotW, plotH          = width - left - right, height - top - bot
	)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if len(values) == 0 {
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	x := func(i int) float64 {
		if len(values) < 2 {
			return left
		}
		return left + plotW*float64(i)/float64(len(values)-1)
	}
	y := func(v float64) float64 { return top + plotH*(hi-v)/(hi-lo) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", width/2, xmlEscape(title))
	// Grid and y ticks.
	for k := 0; k <= 5; k++ {
		v := lo + (hi-lo)*float64(k)/5
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, y(v), left+plotW, y(v))
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, fmtTick(v))
	}
	// x ticks.
	n := max(1, len(values))
	step := max(1, niceStep(n))
	for i := 0; i < n; i += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%d</text>`+"\n", x(i), top+plotH+18, i+1)
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#444"/>`+"\n", left, top, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">iteration</text>`+"\n", left+plotW/2, height-10)
	fmt.Fprintf(&b, `<text x="16" y="%g" text-anchor="middle" transform="rotate(-90 16 %g)">mean episode reward</text>`+"\n", top+plotH/2, top+plotH/2)

	line := func(vs []float64, style string) {
		if len(vs) == 0 {
			return
		}
		var pts strings.Builder
		for i, v := range vs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(i), y(v))
		}
		fmt.Fprintf(&b, `<polyline fill="none" %s points="%s"/>`+"\n", style, strings.TrimSpace(pts.String()))
	}
	if lo < 0 && hi > 0 { // the base allocator's level, when the values are gains over it
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#444" stroke-dasharray="4 3"/>`+"\n", left, y(0), left+plotW, y(0))
	}
	line(values, `stroke="#9ab" stroke-width="1"`)
	line(movingAverage(values, 10), `stroke="#c33" stroke-width="2"`)
	fmt.Fprintf(&b, `<text x="%g" y="%g" fill="#9ab">per iteration</text>`+"\n", left+10, top+16)
	fmt.Fprintf(&b, `<text x="%g" y="%g" fill="#c33">moving average (10)</text>`+"\n", left+110, top+16)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func movingAverage(vs []float64, k int) []float64 {
	out := make([]float64, len(vs))
	sum := 0.0
	for i, v := range vs {
		sum += v
		if i >= k {
			sum -= vs[i-k]
		}
		out[i] = sum / float64(min(i+1, k))
	}
	return out
}

// niceStep spaces about ten x labels.
func niceStep(n int) int {
	for _, s := range []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000} {
		if n/s <= 10 {
			return s
		}
	}
	return n / 10
}

func fmtTick(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
