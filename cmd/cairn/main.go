// Command cairn is Cairn's companion tool: it replays ECS event files
// through the processors of a collector config (backtests, baselines from
// history), scores a config against the labeled detection corpus, and
// generates the bundled demo scenario.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cairnsec/cairn/cmd/cairn/eval"
	"github.com/cairnsec/cairn/cmd/cairn/replay"
	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/normalize"
)

const usageText = `cairn: Cairn's replay, eval and scenario tool

Usage:
  cairn replay --config FILE --input EVENTS.ndjson --output OUT.ndjson [--state DIR] [--pipeline NAME] [--format ecs|tetragon|zeek|falco|sysmon|auto]
  cairn eval --config FILE [--corpus DIR] [--scenario NAME] [--format table|json]
  cairn scenario --output FILE [--hosts N] [--days N] [--events-per-host-day N] [--seed N] [--no-attack] [--no-rollout]
  cairn version

Run "cairn COMMAND -h" for the options of a command.
`

func main() {
	replay.TuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	switch args[0] {
	case "replay":
		return runReplay(args[1:], stdout, stderr)
	case "eval":
		return runEval(args[1:], stdout, stderr)
	case "scenario":
		return runScenario(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "cairn %s\n", replay.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	}
	fmt.Fprintf(stderr, "cairn: unknown command %q\n\n%s", args[0], usageText)
	return 2
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cairn replay --config FILE --input EVENTS.ndjson --output OUT.ndjson [--state DIR] [--format ecs|tetragon|zeek|falco|sysmon|auto]

Runs the processors of the config's logs pipeline, in order and with the
same configuration as the collector, on ECS documents (one JSON object per
line, nested or dotted keys), and writes every resulting record as one ECS
document per line. Lines are decoded as the config's cairn_file receiver
decodes them, its format included: --format overrides it, to read another
sensor's records (Tetragon's JSON export, Zeek logs) or "auto" to detect
them record by record. The summary counts the records read per format.
Malformed lines are reported on stderr and counted; the run goes on. "-"
reads stdin / writes stdout. The output must be another file than the
input, and outside the --state directory; a --state directory that another
replay or a collector is using is refused (exit status 2) before anything
is written.

`)
		fs.PrintDefaults()
	}
	var o replay.Options
	fs.StringVar(&o.ConfigPath, "config", "", "collector configuration file (e.g. deploy/cairn.yaml)")
	fs.StringVar(&o.InputPath, "input", "", "input NDJSON file of ECS events, or - for stdin")
	fs.StringVar(&o.OutputPath, "output", "", "output NDJSON file, or - for stdout")
	fs.StringVar(&o.StateDir, "state", "", "directory to load state from and save it to, replacing the storage extension's directory; without it state is discarded")
	fs.StringVar(&o.Pipeline, "pipeline", "", `logs pipeline to run (default "logs", or the only logs pipeline)`)
	fs.StringVar(&o.Format, "format", "", "what a line holds, overriding the cairn_file receiver's format: ecs, tetragon (Tetragon JSON export), zeek (Zeek JSON or TSV logs) or auto (detected per record) (default: the receiver's format, else ecs)")
	fs.IntVar(&o.BatchSize, "batch-size", 0, "records per batch handed to the processors (default: max_batch_events of the pipeline's cairn_file receiver, else 4096)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cairn replay: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.BatchSize < 0 {
		fmt.Fprintln(stderr, "cairn replay: --batch-size must be positive")
		return 2
	}
	if o.Format != "" && !normalize.Valid(o.Format) {
		fmt.Fprintf(stderr, "cairn replay: --format must be one of %s, got %q\n", strings.Join(normalize.Names(), ", "), o.Format)
		return 2
	}
	o.Stderr = stderr
	o.Stdout = stdout
	o.Progress = isTerminal(stderr)
	o.Processors = replay.DefaultProcessors()
	o.Extensions = replay.DefaultExtensions()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := replay.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "cairn replay: %v\n", err)
		var ue *replay.UsageError
		if errors.As(err, &ue) {
			return 2
		}
		if sum == nil {
			return 1
		}
	}
	report := stdout
	if o.OutputPath == "-" {
		report = stderr // keep stdout for the documents
	}
	sum.Write(report)
	if err != nil {
		return 1
	}
	return 0
}

// names is a repeatable flag that also takes comma-separated lists.
type names []string

func (n *names) String() string { return strings.Join(*n, ",") }

func (n *names) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*n = append(*n, s)
		}
	}
	return nil
}

func runEval(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cairn eval --config FILE [--corpus DIR] [--scenario NAME] [--format table|json]

Replays each scenario of a labeled detection corpus through the processors
of the config's logs pipeline (as cairn replay does, from an empty
in-memory state per scenario) and scores the alerts against the labels:
an attack scenario passes when every attacked host has exactly one high (or
critical) alert, fired at or after its first malicious event and in the
batch of the event that decided it, and no other host has any alert; a
quiet scenario passes when no host has an alert. Prints one row per
scenario. Exit status: 0 when every scenario passes, 1 when one fails, 2
for usage, configuration or corpus errors.

`)
		fs.PrintDefaults()
	}
	var o eval.Options
	var scenarios names
	fs.StringVar(&o.ConfigPath, "config", "", "collector configuration file (e.g. deploy/cairn.yaml)")
	fs.StringVar(&o.CorpusDir, "corpus", "testdata/eval", "corpus directory: one subdirectory per scenario, with labels.yaml and its events")
	fs.Var(&scenarios, "scenario", "run only this scenario (repeatable, or comma-separated)")
	format := fs.String("format", "table", "output: table or json")
	fs.IntVar(&o.BatchSize, "batch-size", eval.DefaultBatchSize, "records per batch handed to the processors; 0: as cairn replay (the config's cairn_file max_batch_events), which puts a whole scenario in one batch")
	verbose := fs.Bool("verbose", false, "show the processors' warnings on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "cairn eval: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *format != "table" && *format != "json":
		fmt.Fprintf(stderr, "cairn eval: --format must be table or json, got %q\n", *format)
		return 2
	case o.BatchSize < 0:
		fmt.Fprintln(stderr, "cairn eval: --batch-size must be positive")
		return 2
	}
	o.Scenarios = scenarios
	o.Processors = replay.DefaultProcessors()
	o.Extensions = replay.DefaultExtensions()
	if *verbose {
		o.Logger = warnLogger(stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := eval.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "cairn eval: %v\n", err)
		var ue *eval.UsageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	if *format == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cairn eval: %v\n", err)
		return 1
	}
	if !rep.Pass() {
		return 1
	}
	return 0
}

func runScenario(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scenario", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := scenario.Default()
	out := fs.String("output", "", "file to write the NDJSON scenario to, or - for stdout")
	fs.IntVar(&cfg.Hosts, "hosts", cfg.Hosts, "fleet size")
	fs.IntVar(&cfg.Days, "days", cfg.Days, "days of activity, the attack on the last one")
	fs.IntVar(&cfg.EventsPerHostDay, "events-per-host-day", cfg.EventsPerHostDay, "approximate normal events per host per day")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (same seed, same file)")
	noAttack := fs.Bool("no-attack", false, "leave the attack out")
	noRollout := fs.Bool("no-rollout", false, "leave the fleet-wide node_exporter upgrade out")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "cairn scenario: --output is required")
		return 2
	}
	cfg.Attack = !*noAttack
	cfg.Rollout = !*noRollout
	w := stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "cairn scenario: %v\n", err)
			return 2
		}
		w = f
	}
	st, err := scenario.Generate(cfg, w)
	if err != nil {
		fmt.Fprintf(stderr, "cairn scenario: %v\n", err)
		return 2
	}
	if f != nil {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "cairn scenario: %v\n", err)
			return 1
		}
	}
	info := stdout
	if *out == "-" {
		info = stderr
	}
	fmt.Fprintf(info, "%d events for %d hosts, %s to %s", st.Events, st.Hosts, st.First.Format("2006-01-02T15:04Z"), st.Last.Format("2006-01-02T15:04Z"))
	if cfg.Attack {
		fmt.Fprintf(info, "; attack on %s at %s", st.AttackHost, st.AttackStart.Format("2006-01-02T15:04:05Z"))
	}
	fmt.Fprintln(info)
	return 0
}

// warnLogger logs the processors' warnings and errors to w, as replay does.
func warnLogger(w io.Writer) *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.TimeKey = ""
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.AddSync(w), zap.WarnLevel))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
