package sim

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DemandRow is one line of a demand file: from T on, Service receives RPS requests per second
// (until its next row).
type DemandRow struct {
	T       time.Duration
	Service string
	RPS     float64
}

// Demand is each service's arrival rate over time, piecewise constant. It is split into
// segments at every time any service's rate changes, so a reader walking forward in time
// looks up one row of rates per segment instead of searching per service.
type Demand struct {
	names  []string
	starts []time.Duration // segment start times, ascending, starts[0] == 0
	rates  [][]float64     // rates[seg][svc]
}

// NewDemand builds a demand from rows naming the given services. A service is at 0 until its
// first row. Rows may come in any order; two rows for one service at one time are an error.
func NewDemand(services []string, rows []DemandRow) (*Demand, error) {
	index := make(map[string]int, len(services))
	for i, s := range services {
		index[s] = i
	}
	type cell struct {
		t   time.Duration
		svc int
		rps float64
	}
	cells := make([]cell, 0, len(rows))
	for _, r := range rows {
		i, ok := index[r.Service]
		if !ok {
			return nil, fmt.Errorf("demand row at t=%v: unknown service %q (want one of %s)", r.T, r.Service, strings.Join(services, ", "))
		}
		if r.T < 0 || r.RPS < 0 || math.IsNaN(r.RPS) || math.IsInf(r.RPS, 0) {
			return nil, fmt.Errorf("demand row t=%v service %q rps=%v: t and rps must be finite and >= 0", r.T, r.Service, r.RPS)
		}
		cells = append(cells, cell{r.T, i, r.RPS})
	}
	slices.SortStableFunc(cells, func(a, b cell) int {
		if a.t != b.t {
			return int(a.t - b.t)
		}
		return a.svc - b.svc
	})
	d := &Demand{names: slices.Clone(services)}
	cur := make([]float64, len(services))
	d.starts = append(d.starts, 0)
	d.rates = append(d.rates, slices.Clone(cur))
	for i, c := range cells {
		if i > 0 && cells[i-1].t == c.t && cells[i-1].svc == c.svc {
			return nil, fmt.Errorf("demand: two rows for service %q at t=%v; keep one", services[c.svc], c.t)
		}
		last := len(d.starts) - 1
		if d.starts[last] != c.t {
			d.starts = append(d.starts, c.t)
			d.rates = append(d.rates, slices.Clone(d.rates[last]))
			last++
		}
		d.rates[last][c.svc] = c.rps
	}
	return d, nil
}

// Services names the services, in the order rates are indexed.
func (d *Demand) Services() []string { return d.names }

// Last is the time of the last change, the default scenario duration.
func (d *Demand) Last() time.Duration { return d.starts[len(d.starts)-1] }

// Rate is service svc's rate at time at.
func (d *Demand) Rate(svc int, at time.Duration) float64 {
	return d.rates[d.segment(at)][svc]
}

// segment is the index of the segment holding time at.
func (d *Demand) segment(at time.Duration) int {
	i, found := slices.BinarySearch(d.starts, at)
	if found {
		return i
	}
	return max(i-1, 0)
}

// Rows lists the demand as rows, one per change of a service's rate, ordered by time.
func (d *Demand) Rows() []DemandRow {
	var rows []DemandRow
	for seg, t := range d.starts {
		for svc, r := range d.rates[seg] {
			if seg == 0 || d.rates[seg-1][svc] != r {
				rows = append(rows, DemandRow{T: t, Service: d.names[svc], RPS: r})
			}
		}
	}
	return rows
}

// WriteCSV writes the demand in the scenario file format (t,service,rps).
func (d *Demand) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("t,service,rps\n")
	var buf []byte
	for _, r := range d.Rows() {
		buf = strconv.AppendFloat(buf[:0], r.T.Seconds(), 'f', -1, 64)
		buf = append(buf, ',')
		buf = append(buf, r.Service...)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, r.RPS, 'f', -1, 64)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	return bw.Flush()
}

// ParseDemandCSV reads a demand file: a header t,service,rps then one row per change, t in
// seconds from the start. Problems name file:line.
func ParseDemandCSV(file string, r io.Reader, services []string) (*Demand, error) {
	known := make(map[string]bool, len(services))
	for _, s := range services {
		known[s] = true
	}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var ps Problems
	var rows []DemandRow
	seen := make(map[DemandRow]int) // keyed with RPS zeroed: (t, service) → line
	header := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			ps.add(file, line, "%v", err)
			break
		}
		if header {
			header = false
			if len(rec) != 3 || strings.TrimSpace(rec[0]) != "t" || strings.TrimSpace(rec[1]) != "service" || strings.TrimSpace(rec[2]) != "rps" {
				ps.add(file, line, "header is %q, want t,service,rps", strings.Join(rec, ","))
				return nil, ps
			}
			continue
		}
		if len(rec) != 3 {
			ps.add(file, line, "%d fields, want 3 (t,service,rps)", len(rec))
			continue
		}
		row, msg := parseDemandRow(rec, known)
		if msg != "" {
			ps.add(file, line, "%s", msg)
			continue
		}
		key := DemandRow{T: row.T, Service: row.Service}
		if prev, dup := seen[key]; dup {
			ps.add(file, line, "second row for service %q at t=%v (first on line %d); keep one", row.Service, row.T.Seconds(), prev)
			continue
		}
		seen[key] = line
		rows = append(rows, row)
	}
	if header && len(ps) == 0 {
		ps.add(file, 0, "empty demand file: want a header t,service,rps and at least one row")
	} else if len(rows) == 0 && len(ps) == 0 {
		ps.add(file, 0, "no demand rows after the header")
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return NewDemand(services, rows)
}

func parseDemandRow(rec []string, known map[string]bool) (DemandRow, string) {
	t, err := strconv.ParseFloat(strings.TrimSpace(rec[0]), 64)
	if err != nil || t < 0 || math.IsInf(t, 0) || math.IsNaN(t) || t > maxSeconds {
		return DemandRow{}, fmt.Sprintf("t %q: want seconds from the start, a number >= 0", rec[0])
	}
	name := strings.TrimSpace(rec[1])
	if !known[name] {
		return DemandRow{}, fmt.Sprintf("unknown service %q: add it to the scenario's services or fix the name", name)
	}
	rps, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
	if err != nil || rps < 0 || math.IsInf(rps, 0) || math.IsNaN(rps) {
		return DemandRow{}, fmt.Sprintf("rps %q: want requests per second, a number >= 0", rec[2])
	}
	return DemandRow{T: time.Duration(math.Round(t * float64(time.Second))), Service: strings.Clone(name), RPS: rps}, ""
}

// maxSeconds bounds t so it converts to a time.Duration without overflow (a year).
const maxSeconds = 365 * 24 * 3600
