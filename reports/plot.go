package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotLayout is one figure drawn from a table: the table's rows along x,
// one series per column.
type PlotLayout struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	// Table names the table to draw; a table with each gives one figure
	// per value.
	Table string `json:"table"`
	// Kind: "lines", "bars" (grouped), or "cdf" (the empirical CDF of
	// each column's numbers, like the paper's Fig. 2).
	Kind string `json:"kind"`
	// Columns to draw (default: every column with numbers).
	Columns []string `json:"columns,omitempty"`
	// Normalize rescales each series to [0, 1] (min to max), so that
	// series on different scales — r̄ and NBC — can be compared by order.
	Normalize bool `json:"normalize,omitempty"`
	// Band names a table with the same rows and columns whose numbers are
	// half-widths drawn as a shaded band around each line (the paper's
	// Fig. 4 shades ± one standard error over prompts).
	Band string `json:"band,omitempty"`
}

// Figure is a rendered plot.
type Figure struct {
	// File is the base name: <experiment>.<plot>[.<each value>].
	File  string
	Title string
	SVG   []byte
	PNG   []byte
}

// FigureFile is the base file name of plot p drawn from table t.
func FigureFile(experiment string, p PlotLayout, t *Table) string {
	return fileName(experiment, p.Name, t)
}

// Figures renders every plot of the experiment.
func (x *Experiment) Figures() ([]Figure, error) {
	var out []Figure
	for _, p := range x.Plots {
		for i := range x.Tables {
			t := &x.Tables[i]
			if t.Name != p.Table {
				continue
			}
			var band *Table
			if p.Band != "" {
				for k := range x.Tables {
					b := &x.Tables[k]
					if b.Name == p.Band && b.EachValue == t.EachValue {
						band = b
					}
				}
				if band == nil {
					return nil, fmt.Errorf("plot %s: no band table %q", p.Name, p.Band)
				}
			}
			f, err := drawFigure(p, t, band)
			if err != nil {
				return nil, fmt.Errorf("plot %s of %s: %w", p.Name, x.Name, err)
			}
			f.File = FigureFile(x.Name, p, t)
			out = append(out, f)
		}
	}
	return out, nil
}

type series struct {
	name string
	x    []float64
	y    []float64
	e    []float64 // band half-widths, when a band table is given
}

func drawFigure(p PlotLayout, t *Table, band *Table) (Figure, error) {
	title := p.Title
	if title == "" {
		title = t.FullTitle()
	} else if t.Each != "" {
		title = fmt.Sprintf("%s — %s = %s", title, t.Each, unquote(t.EachValue))
	}
	pl := plot.New()
	pl.Title.Text = title
	pl.Legend.Top = true
	labels := make([]string, len(t.Rows))
	numericX := true
	xs := make([]float64, len(t.Rows))
	for i, r := range t.Rows {
		labels[i] = unquote(r.Label)
		v, err := strconv.ParseFloat(r.Label, 64)
		if err != nil {
			numericX = false
		}
		xs[i] = v
	}
	var ss []series
	for c, col := range t.Columns {
		if len(p.Columns) > 0 && !slices.Contains(p.Columns, col) {
			continue
		}
		s := series{name: unquote(col)}
		for i, r := range t.Rows {
			v := r.Cells[c].Value
			if v.None || v.Shape != 0 { // numbers only
				continue
			}
			x := float64(i)
			if numericX {
				x = xs[i]
			}
			s.x = append(s.x, x)
			s.y = append(s.y, v.Number)
			if band != nil {
				e := 0.0
				if bc := slices.Index(band.Columns, col); bc >= 0 && i < len(band.Rows) && !band.Rows[i].Cells[bc].Value.None {
					e = band.Rows[i].Cells[bc].Value.Number
				}
				s.e = append(s.e, e)
			}
		}
		if len(s.y) > 0 {
			ss = append(ss, s)
		}
	}
	if len(ss) == 0 {
		return Figure{}, fmt.Errorf("table %s has no numbers to draw", t.Name)
	}
	if p.Normalize {
		for k := range ss {
			lo, hi := slices.Min(ss[k].y), slices.Max(ss[k].y)
			for i := range ss[k].y {
				if hi > lo {
					ss[k].y[i] = (ss[k].y[i] - lo) / (hi - lo)
				} else {
					ss[k].y[i] = 0.5
				}
			}
		}
	}
	switch p.Kind {
	case "cdf":
		pl.X.Label.Text = "value"
		pl.Y.Label.Text = "fraction ≤ value"
		for k, s := range ss {
			v := append([]float64(nil), s.y...)
			sort.Float64s(v)
			pts := make(plotter.XYs, 0, 2*len(v)+1)
			pts = append(pts, plotter.XY{X: v[0], Y: 0})
			for i, x := range v {
				pts = append(pts, plotter.XY{X: x, Y: float64(i) / float64(len(v))}, plotter.XY{X: x, Y: float64(i+1) / float64(len(v))})
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return Figure{}, err
			}
			l.Color = plotutil.Color(k)
			l.Width = vg.Points(1.5)
			pl.Add(l)
			pl.Legend.Add(s.name, l)
		}
	case "bars":
		w := vg.Points(40 / float64(len(ss)))
		for k, s := range ss {
			vals := make(plotter.Values, len(t.Rows))
			for i := range vals {
				vals[i] = math.NaN()
			}
			for i, x := range s.x {
				idx := i
				if !numericX {
					idx = int(x)
				}
				vals[idx] = s.y[i]
			}
			for i := range vals {
				if math.IsNaN(vals[i]) {
					vals[i] = 0
				}
			}
			b, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return Figure{}, err
			}
			b.Color = plotutil.Color(k)
			b.LineStyle.Width = 0
			b.Offset = w * vg.Length(float64(k)-float64(len(ss)-1)/2)
			pl.Add(b)
			pl.Legend.Add(s.name, b)
		}
		pl.NominalX(labels...)
		pl.X.Label.Text = t.RowAxis
	default: // lines
		for k, s := range ss {
			if s.e != nil && !p.Normalize {
				poly := make(plotter.XYs, 0, 2*len(s.x))
				for i := range s.x {
					poly = append(poly, plotter.XY{X: s.x[i], Y: s.y[i] - s.e[i]})
				}
				for i := len(s.x) - 1; i >= 0; i-- {
					poly = append(poly, plotter.XY{X: s.x[i], Y: s.y[i] + s.e[i]})
				}
				pg, err := plotter.NewPolygon(poly)
				if err != nil {
					return Figure{}, err
				}
				r, g, b, _ := plotutil.Color(k).RGBA()
				pg.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 60}
				pg.LineStyle.Width = 0
				pl.Add(pg)
			}
			pts := make(plotter.XYs, len(s.x))
			for i := range s.x {
				pts[i] = plotter.XY{X: s.x[i], Y: s.y[i]}
			}
			l, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return Figure{}, err
			}
			l.Color, sc.Color = plotutil.Color(k), plotutil.Color(k)
			sc.Shape = plotutil.Shape(k)
			pl.Add(l, sc)
			pl.Legend.Add(s.name, l, sc)
		}
		if !numericX {
			pl.NominalX(labels...)
		}
		pl.X.Label.Text = t.RowAxis
		if numericX && t.RowAxis == "alternative" {
			pl.X.Label.Text = "δ = y − x"
		}
	}
	if p.Normalize {
		pl.Y.Label.Text = "normalised (min 0, max 1)"
	}
	pl.Add(plotter.NewGrid())
	if !numericX && p.Kind != "cdf" {
		long := 0
		for _, l := range labels {
			long = max(long, len(l))
		}
		if long > 8 {
			pl.X.Tick.Label.Rotation = math.Pi / 6
			pl.X.Tick.Label.XAlign = draw.XRight
			pl.X.Tick.Label.YAlign = draw.YCenter
		}
	}
	if p.Kind == "cdf" {
		pl.X.Min, pl.Y.Min, pl.Y.Max = 0, 0, 1
	}
	f := Figure{Title: title}
	width := 7 * vg.Inch
	if !numericX && p.Kind != "cdf" {
		width = vg.Length(math.Min(12, math.Max(6, 0.9*float64(len(t.Rows))))) * vg.Inch
	}
	for _, format := range []string{"svg", "png"} {
		wt, err := pl.WriterTo(width, 4*vg.Inch, format)
		if err != nil {
			return Figure{}, err
		}
		var buf bytes.Buffer
		if _, err := wt.WriteTo(&buf); err != nil {
			return Figure{}, err
		}
		if format == "svg" {
			f.SVG = buf.Bytes()
		} else {
			f.PNG = buf.Bytes()
		}
	}
	return f, nil
}
