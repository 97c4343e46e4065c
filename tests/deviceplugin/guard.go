package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"strings"
)

// startupSource is startup.go itself, compared with upstream's main.go by selfCheck.
//
//go:embed startup.go
var startupSource []byte

type goFile struct {
	fset *token.FileSet
	file *ast.File
}

func parseGo(name string, src []byte) (*goFile, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	return &goFile{fset, f}, nil
}

// text prints a node without comments, so only code is compared.
func (g *goFile) text(n ast.Node) string {
	var buf bytes.Buffer
	cfg := printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}
	if err := cfg.Fprint(&buf, g.fset, stripComments(n)); err != nil {
		return "<print error: " + err.Error() + ">"
	}
	return buf.String()
}

func stripComments(n ast.Node) ast.Node {
	ast.Inspect(n, func(x ast.Node) bool {
		switch d := x.(type) {
		case *ast.FuncDecl:
			d.Doc = nil
		case *ast.GenDecl:
			d.Doc = nil
		case *ast.Field:
			d.Doc, d.Comment = nil, nil
		}
		return true
	})
	return n
}

func (g *goFile) funcDecl(name string) *ast.FuncDecl {
	for _, d := range g.file.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name && fd.Recv == nil {
			return fd
		}
	}
	return nil
}

func (g *goFile) typeSpec(name string) *ast.TypeSpec {
	for _, d := range g.file.Decls {
		if gd, ok := d.(*ast.GenDecl); ok {
			for _, s := range gd.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == name {
					return ts
				}
			}
		}
	}
	return nil
}

// assignTo finds the statement `<lhs> = ...` in a function body.
func (g *goFile) assignTo(fn *ast.FuncDecl, lhs string) ast.Stmt {
	for _, s := range fn.Body.List {
		if as, ok := s.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && g.text(as.Lhs[0]) == lhs {
			return as
		}
	}
	return nil
}

// selfCheck proves that startup.go still is upstream's code: the options struct, the flag
// list, validateFlags and loadConfig identical, and every statement of our startPlugins
// (but the stand-in infolib and the final return) found in upstream's startPlugins, in order.
func selfCheck(upstreamMain string) error {
	src, err := os.ReadFile(upstreamMain)
	if err != nil {
		return err
	}
	up, err := parseGo(upstreamMain, src)
	if err != nil {
		return err
	}
	ours, err := parseGo("startup.go", startupSource)
	if err != nil {
		return err
	}
	var problems []string
	same := func(what, a, b string) {
		if a == "" || b == "" {
			problems = append(problems, what+": not found")
		} else if a != b {
			problems = append(problems, what+" differs: "+firstDifference(a, b))
		}
	}
	nodeText := func(g *goFile, n ast.Node) string {
		if n == nil {
			return ""
		}
		return g.text(n)
	}
	for _, name := range []string{"validateFlags", "loadConfig"} {
		var a, b ast.Node
		if fd := up.funcDecl(name); fd != nil {
			a = fd
		}
		if fd := ours.funcDecl(name); fd != nil {
			b = fd
		}
		same("func "+name, nodeText(up, a), nodeText(ours, b))
	}
	var ua, oa ast.Node
	if ts := up.typeSpec("options"); ts != nil {
		ua = ts
	}
	if ts := ours.typeSpec("options"); ts != nil {
		oa = ts
	}
	same("type options", nodeText(up, ua), nodeText(ours, oa))

	upMain, ourApp := up.funcDecl("main"), ours.funcDecl("newPluginApp")
	if upMain == nil || ourApp == nil {
		problems = append(problems, "main / newPluginApp: not found")
	} else {
		for _, lhs := range []string{"c.Flags", "o.flags"} {
			var a, b ast.Node
			if s := up.assignTo(upMain, lhs); s != nil {
				a = s
			}
			if s := ours.assignTo(ourApp, lhs); s != nil {
				b = s
			}
			same(lhs+" = ...", nodeText(up, a), nodeText(ours, b))
		}
	}

	upStart, ourStart := up.funcDecl("startPlugins"), ours.funcDecl("startPlugins")
	if upStart == nil || ourStart == nil {
		problems = append(problems, "startPlugins: not found")
	} else {
		var upStmts []string
		for _, s := range upStart.Body.List {
			upStmts = append(upStmts, up.text(s))
		}
		next := 0
		for _, s := range ourStart.Body.List {
			t := ours.text(s)
			if strings.HasPrefix(t, "infolib := nvinfo.New()") || strings.HasPrefix(t, "return config, false, nil") {
				continue // the stand-in for the node, and the end of our excerpt
			}
			found := false
			for i := next; i < len(upStmts); i++ {
				if upStmts[i] == t {
					next, found = i+1, true
					break
				}
			}
			if !found {
				problems = append(problems, "startPlugins: statement not in upstream's (in this order):\n"+t)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("startup.go is not upstream's code (%s):\n%s", upstreamMain, strings.Join(problems, "\n"))
	}
	return nil
}

// firstDifference names the first line where upstream's text (a) and ours (b) part.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: upstream %q, startup.go %q", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "(no line differs)"
}
