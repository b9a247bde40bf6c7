package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a config file, at a line of it.
type Error struct {
	File string
	Line int // 1-based; 0 when the problem has no single line (then Error omits it)
	Msg  string
}

// Error formats e as "file:line: reason", the form editors and CI annotations jump to.
func (e Error) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// Errors is every problem found in one config, ordered by line. Parse and Load return all of
// them at once so a user fixes a file in one pass.
type Errors []Error

// Error joins the problems one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// problems collects errors for one file while it is decoded and validated.
type problems struct {
	file string
	list Errors
}

func (p *problems) add(line int, format string, args ...any) {
	p.list = append(p.list, Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected problems sorted by line (stable, so problems on one line keep the
// order they were found in), or nil when there are none.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.SortStableFunc(p.list, func(a, b Error) int { return cmp.Compare(a.Line, b.Line) })
	return p.list
}
