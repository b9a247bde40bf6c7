package config

import (
	"encoding"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// The decoder walks the YAML syntax tree itself instead of using yaml.Unmarshal, because the
// config needs what a generic decoder stops short of: every problem in one pass (not just the
// first), the line of every value for later validation messages, the object a wrong key sits
// in, and defaults applied only to keys the user left out (an explicit 0 stays 0).

const (
	// maxWork bounds the nodes a decode visits, so alias and merge-key expansion of a hostile
	// file cannot grow without limit.
	maxWork = 1 << 18
	// maxAliasHops bounds alias-to-alias chains and nested merge keys.
	maxAliasHops = 32
)

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	listOfOneType       = reflect.TypeFor[listOfOne]()
	prefixType          = reflect.TypeFor[netip.Prefix]()
	policyType          = reflect.TypeFor[Policy]()
)

type decoder struct {
	p       *problems
	lines   map[string]int // value path ("routes[0].match.path") → line
	anchors map[string]ast.Node
	// bad holds the paths of values that failed to decode, so validation does not
	// complain again about the zero value left in their place.
	bad    map[string]bool
	work   int
	tooBig bool
}

func newDecoder(p *problems, root ast.Node) *decoder {
	d := &decoder{p: p, lines: make(map[string]int), anchors: make(map[string]ast.Node), bad: make(map[string]bool)}
	if root != nil {
		ast.Walk(anchorCollector(d.anchors), root)
	}
	return d
}

// anchorCollector records every &anchor so aliases can be resolved wherever they appear.
type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		a[an.Name.GetToken().Value] = an.Value
	}
	return a
}

// spend counts one unit of work and reports whether decoding may go on.
func (d *decoder) spend(line int) bool {
	d.work++
	if d.work <= maxWork {
		return true
	}
	if !d.tooBig {
		d.tooBig = true
		d.p.add(line, "config too large: aliases and merge keys expand to more than %d values", maxWork)
	}
	return false
}

// resolve strips tags and anchors and follows aliases to the node that holds the value.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range maxAliasHops {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.p.add(nodeLine(v), "alias *%s refers to no anchor: define &%s before using it", name, name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
	d.p.add(nodeLine(n), "aliases nest more than %d deep", maxAliasHops)
	return nil
}

func nodeLine(n ast.Node) int {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// scalarText returns a scalar's text as written (numbers and booleans too, so "1.2" stays
// "1.2" for a string field).
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	if s, ok := scalarText(n); ok {
		return strconv.Quote(s)
	}
	return "a " + n.Type().String()
}

func isMapping(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

// keyText returns a mapping key as a string; only scalar keys are meaningful in a config.
func keyText(k ast.MapKeyNode) (string, bool) {
	if k == nil {
		return "", false
	}
	return scalarText(k)
}

// entries lists a mapping's key/value pairs with YAML merge keys (<<: *anchor) applied:
// keys written in the mapping win over merged ones, and earlier merged mappings win over
// later ones.
func (d *decoder) entries(n ast.Node, hops int) []*ast.MappingValueNode {
	var vals []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		vals = m.Values
	case *ast.MappingValueNode:
		vals = []*ast.MappingValueNode{m}
	}
	var explicit, merged []*ast.MappingValueNode
	for _, e := range vals {
		if !d.spend(nodeLine(e)) {
			return nil
		}
		if e.Key == nil || !e.Key.IsMergeKey() {
			explicit = append(explicit, e)
			continue
		}
		if hops >= maxAliasHops {
			d.p.add(nodeLine(e.Key), "merge keys nest more than %d deep", maxAliasHops)
			continue
		}
		src := d.resolve(e.Value)
		srcs := []ast.Node{src}
		if seq, ok := src.(*ast.SequenceNode); ok {
			srcs = srcs[:0]
			for _, s := range seq.Values {
				srcs = append(srcs, d.resolve(s))
			}
		}
		for _, s := range srcs {
			if !isMapping(s) {
				d.p.add(nodeLine(e.Key), "<< must merge a mapping or a list of mappings, got %s", describe(s))
				continue
			}
			merged = append(merged, d.entries(s, hops+1)...)
		}
	}
	if len(merged) == 0 {
		return explicit
	}
	seen := make(map[string]bool, len(explicit)+len(merged))
	for _, e := range explicit {
		if k, ok := keyText(e.Key); ok {
			seen[k] = true
		}
	}
	out := explicit
	for _, e := range merged {
		k, _ := keyText(e.Key)
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// yamlName returns the YAML key of a struct field, or false for fields not read from YAML.
func yamlName(f reflect.StructField) (string, bool) {
	name := f.Tag.Get("yaml")
	if name == "" || name == "-" || !f.IsExported() {
		return "", false
	}
	return name, true
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name, ok := yamlName(t.Field(i)); ok {
			keys = append(keys, name)
		}
	}
	return keys
}

func fieldIndex(t reflect.Type, key string) int {
	for i := range t.NumField() {
		if name, ok := yamlName(t.Field(i)); ok && name == key {
			return i
		}
	}
	return -1
}

func joinCtx(ctx, label string) string {
	if ctx == "" {
		return label
	}
	return ctx + " " + label
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// prefix is "ctx: " or "" at the top level.
func prefix(ctx string) string {
	if ctx == "" {
		return ""
	}
	return ctx + ": "
}

// decodeStruct fills v (a struct) from a mapping node. ctx names the object for messages
// ("upstream \"app\"", "route \"all\" match"); line is the line of the object, stored in a
// Line field when the struct has one.
func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path, ctx string, line int) {
	t := v.Type()
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(line))
	}
	present := make(map[string]bool)
	seen := make(map[string]int)
	for _, e := range d.entries(n, 0) {
		kline := nodeLine(e.Key)
		key, ok := keyText(e.Key)
		if !ok {
			d.p.add(kline, "%skeys must be plain strings", prefix(ctx))
			continue
		}
		if ctx == "" && path == "" && strings.HasPrefix(key, "x-") {
			continue // top-level extension keys hold anchors for reuse (as in Compose files)
		}
		i := fieldIndex(t, key)
		if i < 0 {
			where := " at the top level"
			if ctx != "" {
				where = " in " + ctx
			}
			d.p.add(kline, "unknown key %q%s%s", key, where, didYouMean(key, yamlKeys(t)))
			continue
		}
		if first, dup := seen[key]; dup {
			d.p.add(kline, "%sduplicate key %q (first at line %d)", prefix(ctx), key, first)
			continue
		}
		seen[key] = kline
		p := joinPath(path, key)
		val := d.resolve(e.Value)
		if val == nil && e.Value != nil {
			d.bad[p] = true // a broken alias, already reported
			continue
		}
		if isNull(val) && t == policyType {
			// "- compress:" names the policy with its defaults, as "- compress: {}" does.
			val = ast.Mapping(val.GetToken(), true)
		} else if isNull(val) {
			continue // an empty value means "use the default"
		}
		present[key] = true
		d.lines[p] = valueLine(val, kline)
		d.decodeValue(val, v.Field(i), p, ctx, key, kline)
	}
	for i := range t.NumField() {
		if name, ok := yamlName(t.Field(i)); ok && !present[name] {
			applyDefault(v.Field(i), t.Field(i))
		}
	}
}

// valueLine is the line to blame for a value: its own for scalars, the key's for mappings
// and lists (whose first token may sit on a later line).
func valueLine(val ast.Node, keyLine int) int {
	if _, ok := scalarText(val); ok {
		if l := nodeLine(val); l > 0 {
			return l
		}
	}
	return keyLine
}

// applyDefault sets an absent field to its `default` tag, or fills the defaults inside an
// absent nested struct (so "timeouts" left out still gets every timeout's default).
func applyDefault(v reflect.Value, f reflect.StructField) {
	if def, ok := f.Tag.Lookup("default"); ok {
		if err := setText(v, def); err != nil {
			panic(fmt.Sprintf("config: bad default %q on %s: %v", def, f.Name, err))
		}
		return
	}
	if v.Kind() != reflect.Struct || isTextType(v) {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		if _, ok := yamlName(t.Field(i)); ok {
			applyDefault(v.Field(i), t.Field(i))
		}
	}
}

func isTextType(v reflect.Value) bool {
	return v.Type() == prefixType || reflect.PointerTo(v.Type()).Implements(textUnmarshalerType)
}

// setText sets a scalar field from text: defaults use it, and so do text-typed values.
func setText(v reflect.Value, s string) error {
	if v.Type() == prefixType {
		p, err := parsePrefix(s)
		if err == nil {
			v.Set(reflect.ValueOf(p))
		}
		return err
	}
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetUint(n)
	default:
		return fmt.Errorf("no text form for %s", v.Type())
	}
	return nil
}

// parsePrefix reads a CIDR, or a bare address as a single-address prefix. Host bits are
// cleared ("10.1.2.3/8" is 10.0.0.0/8): the intent is clear and erroring would only annoy.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: write an address or a prefix like 10.0.0.0/8 or fd00::/8", s)
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: write an address or a prefix like 10.0.0.0/8 or fd00::/8", s)
	}
	return p.Masked(), nil
}

func (d *decoder) typeErr(n ast.Node, path, ctx, label, want string, line int) {
	d.bad[path] = true
	hint := ""
	if want == "a list" {
		if s, ok := scalarText(n); ok {
			hint = fmt.Sprintf(" (write [%s] for a list of one)", s)
		}
	}
	if l := nodeLine(n); l > 0 {
		line = l
	}
	d.p.add(line, "%s%s: want %s, got %s%s", prefix(ctx), label, want, describe(n), hint)
}

// decodeValue fills v from node n. ctx is the enclosing object, label the key (or list
// position) of this value within it, line the line to blame when n has none.
func (d *decoder) decodeValue(n ast.Node, v reflect.Value, path, ctx, label string, line int) {
	if !d.spend(line) {
		return
	}
	if isTextType(v) {
		s, ok := scalarText(n)
		if !ok {
			d.typeErr(n, path, ctx, label, "a string", line)
			return
		}
		if err := setText(v, s); err != nil {
			d.bad[path] = true
			d.p.add(valueLine(n, line), "%s%s: %v", prefix(ctx), label, err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		d.decodeValue(n, nv.Elem(), path, ctx, label, line)
		v.Set(nv)
	case reflect.Struct:
		if !isMapping(n) {
			d.typeErr(n, path, ctx, label, "a mapping", line)
			applyDefault(v, reflect.StructField{})
			return
		}
		d.decodeStruct(n, v, path, joinCtx(ctx, label), line)
	case reflect.Slice:
		d.decodeSlice(n, v, path, ctx, label, line)
	case reflect.Map:
		d.decodeMap(n, v, path, ctx, label, line)
	case reflect.String:
		s, ok := scalarText(n)
		if !ok {
			d.typeErr(n, path, ctx, label, "a string", line)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.typeErr(n, path, ctx, label, "true or false", line)
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint32, reflect.Uint64, reflect.Uint:
		d.decodeInt(n, v, path, ctx, label, line)
	default:
		panic(fmt.Sprintf("config: no decoder for %s", v.Type()))
	}
}

func (d *decoder) decodeInt(n ast.Node, v reflect.Value, path, ctx, label string, line int) {
	in, ok := n.(*ast.IntegerNode)
	if !ok {
		if s, ok := scalarText(n); ok && isDigits(strings.TrimPrefix(s, "-")) {
			// Too large for the YAML parser's integers, so it became another scalar.
			d.bad[path] = true
			d.p.add(valueLine(n, line), "%s%s: %s is out of range", prefix(ctx), label, s)
			return
		}
		d.typeErr(n, path, ctx, label, "an integer", line)
		return
	}
	var (
		i64      int64
		negative bool
		fits     bool
	)
	switch x := in.Value.(type) {
	case int64:
		i64, negative, fits = x, x < 0, true
	case uint64:
		i64, fits = int64(x), x <= 1<<63-1
	}
	switch {
	case v.CanInt() && fits && !v.OverflowInt(i64):
		v.SetInt(i64)
		return
	case v.CanUint() && fits && !negative && !v.OverflowUint(uint64(i64)):
		v.SetUint(uint64(i64))
		return
	}
	d.bad[path] = true
	if v.CanUint() && negative {
		d.p.add(valueLine(n, line), "%s%s: must not be negative, got %s", prefix(ctx), label, in.GetToken().Value)
		return
	}
	d.p.add(valueLine(n, line), "%s%s: %s is out of range", prefix(ctx), label, in.GetToken().Value)
}

// listOfOne is implemented by list types whose single element may be written without the
// brackets (expect_status: 200 for [200]).
type listOfOne interface{ oneIsList() }

func (d *decoder) decodeSlice(n ast.Node, v reflect.Value, path, ctx, label string, line int) {
	seq, ok := n.(*ast.SequenceNode)
	if _, scalar := scalarText(n); !ok && scalar && v.Type().Implements(listOfOneType) {
		s := reflect.MakeSlice(v.Type(), 1, 1)
		d.decodeValue(n, s.Index(0), path+"[0]", ctx, label, line)
		v.Set(s)
		return
	}
	if !ok {
		d.typeErr(n, path, ctx, label, "a list", line)
		return
	}
	et := v.Type().Elem()
	s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, raw := range seq.Values {
		el := d.resolve(raw)
		elLine := nodeLine(el)
		if elLine == 0 {
			elLine = nodeLine(raw)
		}
		if elLine == 0 {
			elLine = line
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = elLine
		if isNull(el) {
			d.bad[p] = true
			d.p.add(elLine, "%s%s: empty list entry #%d", prefix(ctx), label, i+1)
			continue
		}
		if et.Kind() == reflect.Struct && !isTextType(s.Index(i)) {
			if short := shorthandField(et); short >= 0 && !isMapping(el) {
				// "- http://a:1" stands for "- {url: http://a:1}".
				d.decodeShorthand(el, s.Index(i), short, p, d.elemCtx(et, ctx, el, i), elLine)
				continue
			}
			if !isMapping(el) {
				d.typeErr(el, p, ctx, fmt.Sprintf("%s #%d", label, i+1), "a mapping", elLine)
				continue
			}
			d.decodeStruct(el, s.Index(i), p, d.elemCtx(et, ctx, el, i), elLine)
			continue
		}
		d.decodeValue(el, s.Index(i), p, ctx, fmt.Sprintf("%s #%d", label, i+1), elLine)
	}
	v.Set(s)
}

// shorthandField returns the index of the field tagged `shorthand:"true"`, which a scalar
// list element sets on its own, or -1.
func shorthandField(t reflect.Type) int {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("shorthand") == "true" {
			return i
		}
	}
	return -1
}

// decodeShorthand fills a struct from a scalar that sets its shorthand field, defaults the
// rest, and records lines as if the mapping form had been written.
func (d *decoder) decodeShorthand(n ast.Node, v reflect.Value, field int, path, ctx string, line int) {
	t := v.Type()
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(line))
	}
	name, _ := yamlName(t.Field(field))
	p := joinPath(path, name)
	d.lines[p] = line
	d.decodeValue(n, v.Field(field), p, ctx, name, line)
	for i := range t.NumField() {
		if i != field {
			if _, ok := yamlName(t.Field(i)); ok {
				applyDefault(v.Field(i), t.Field(i))
			}
		}
	}
}

// elemCtx names a list element for messages: objects with a name field by their name
// (`upstream "app"`), or by position when the name is missing; others by position within
// their parent (`upstream "app" target #2`).
func (d *decoder) elemCtx(t reflect.Type, parent string, n ast.Node, i int) string {
	kind := strings.ToLower(t.Name())
	if fieldIndex(t, "name") >= 0 {
		for _, e := range d.entries(n, 0) {
			if k, _ := keyText(e.Key); k == "name" {
				if s, ok := scalarText(d.resolve(e.Value)); ok && s != "" {
					return joinCtx(parent, fmt.Sprintf("%s %q", kind, s))
				}
			}
		}
	}
	return joinCtx(parent, fmt.Sprintf("%s #%d", kind, i+1))
}

func (d *decoder) decodeMap(n ast.Node, v reflect.Value, path, ctx, label string, line int) {
	if !isMapping(n) {
		d.typeErr(n, path, ctx, label, "a mapping", line)
		return
	}
	m := reflect.MakeMap(v.Type())
	seen := make(map[string]int)
	for _, e := range d.entries(n, 0) {
		kline := nodeLine(e.Key)
		key, ok := keyText(e.Key)
		if !ok {
			d.p.add(kline, "%s%s: keys must be plain strings", prefix(ctx), label)
			continue
		}
		if first, dup := seen[key]; dup {
			d.p.add(kline, "%s%s: duplicate key %q (first at line %d)", prefix(ctx), label, key, first)
			continue
		}
		seen[key] = kline
		val := d.resolve(e.Value)
		s := ""
		if !isNull(val) {
			if s, ok = scalarText(val); !ok {
				d.typeErr(val, joinPath(path, key), ctx, label+"."+key, "a string", kline)
				continue
			}
		}
		p := joinPath(path, key)
		d.lines[p] = valueLine(val, kline)
		m.SetMapIndex(reflect.ValueOf(key), reflect.ValueOf(s))
	}
	v.Set(m)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
