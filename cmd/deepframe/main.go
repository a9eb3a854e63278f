// Command deepframe works with deepframe model bundles from the shell.
//
//	deepframe summary MODEL.dfm
//	deepframe predict MODEL.dfm --input rows.csv [--output predictions.csv] [--header] [--batch-size N]
//	deepframe version
//	deepframe help [COMMAND]
//
// Exit status: 0 on success, 1 when a command fails (the reason is printed as
// "deepframe: <error>"), 2 on a usage error (with the command's usage).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand. run receives the arguments after the command's name.
type command struct {
	name    string
	args    string // argument synopsis for usage lines
	summary string // one line, for the command list
	long    string // more detail for the command's own usage, or ""
	// flags declares the command's flags on fs and returns what run needs of them; keeping
	// declaration apart from running lets help print a command's flags without running it.
	flags func(fs *flag.FlagSet) any
	run   func(ctx context.Context, inv *invocation) error
}

// invocation is one parsed command line.
type invocation struct {
	args   []string // positional arguments
	opts   any      // what command.flags returned
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError is a command line that does not make sense; it exits with status 2 and the usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

var commands []*command

func init() {
	commands = []*command{summaryCommand, predictCommand, versionCommand}
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is the whole program minus the process: it returns the exit status, so tests run every
// command in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "deepframe: no command given")
		printUsage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(rest, stdout, stderr)
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "deepframe: unknown command %q\n", name)
		printUsage(stderr)
		return 2
	}
	fs := newFlagSet(c)
	opts := c.flags(fs)
	pos, err := parseInterleaved(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandUsage(stdout, c)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "deepframe %s: %v\n", c.name, err)
		printCommandUsage(stderr, c)
		return 2
	}
	err = c.run(ctx, &invocation{args: pos, opts: opts, stdin: stdin, stdout: stdout, stderr: stderr})
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "deepframe %s: %v\n", c.name, err)
		printCommandUsage(stderr, c)
		return 2
	default:
		fmt.Fprintf(stderr, "deepframe: %v\n", err)
		return 1
	}
}

func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	// run prints parse errors and usage itself, once, to the right stream.
	fs.SetOutput(io.Discard)
	return fs
}

// parseInterleaved parses flags that may come before, between or after positional arguments
// ("predict model.dfm --input x.csv" reads naturally; the flag package alone stops at the first
// positional argument). After "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func help(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		printUsage(stdout)
		return 0
	case 1:
		if c := lookup(args[0]); c != nil {
			printCommandUsage(stdout, c)
			return 0
		}
		fmt.Fprintf(stderr, "deepframe help: unknown command %q\n", args[0])
	default:
		fmt.Fprintln(stderr, "deepframe help: give at most one command")
	}
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: deepframe COMMAND [ARGUMENTS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n", width, "help", "show help for a command")
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "deepframe help COMMAND" for a command's arguments and flags.`)
}

func printCommandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: deepframe %s", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s.\n", strings.ToUpper(c.summary[:1])+c.summary[1:])
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", c.long)
	}
	fs := newFlagSet(c)
	c.flags(fs)
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, line)
	})
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s\n", strings.Join(lines, "\n"))
	}
}

func noFlags(*flag.FlagSet) any { return nil }

// exactArgs checks the number of positional arguments, naming what is expected.
func exactArgs(inv *invocation, names ...string) error {
	switch {
	case len(inv.args) < len(names):
		return usagef("missing %s", strings.Join(names[len(inv.args):], " and "))
	case len(inv.args) > len(names):
		return usagef("unexpected argument %q", inv.args[len(names)])
	}
	return nil
}
