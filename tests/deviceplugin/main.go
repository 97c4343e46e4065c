// dpconfigcheck: NVIDIA k8s-device-plugin v0.20.0's own config loading and checks, run on
// the configs this collection writes (test infrastructure only; the collection stays Python).
//
//	dpconfigcheck selfcheck UPSTREAM_MAIN_GO
//	    startup.go is still upstream's code (guard.go); run by scripts/deviceplugin.sh build
//	dpconfigcheck files [-env NAME=VALUE]... [-daemonset FILE] FILE...
//	    FILE is a ConfigMap manifest (every data entry is one config file) or a config file;
//	    the plugin's environment comes from the device plugin container of the DaemonSet
//	    manifest and -env. One line per config; exit status 1 when any is refused.
//	dpconfigcheck json < [{"id": ..., "config": "<file text>", "env": {NAME: VALUE}}, ...]
//	    one result per config on stdout: {"id", "error" (empty = accepted), "config"}
//
// Each config is written to a file and read exactly as the plugin reads it at start-up:
// cli flags with their defaults and environment variables, CONFIG_FILE, loadConfig
// (spec.NewConfig), spec.DisableResourceNamingInConfig, validateFlags (startup.go).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	spec "github.com/NVIDIA/k8s-device-plugin/api/config/v1"
)

// pluginEnvNames lists every environment variable the plugin's flags read.
func pluginEnvNames() []string {
	c, _ := newPluginApp()
	var out []string
	for _, f := range c.Flags {
		if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
			out = append(out, ef.GetEnvVars()...)
		}
	}
	return out
}

// load runs the plugin's start-up on one config file under the given environment.
func load(path string, env map[string]string) (*spec.Config, error) {
	for _, name := range pluginEnvNames() {
		os.Unsetenv(name)
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	os.Setenv("CONFIG_FILE", path)
	c, o := newPluginApp()
	var config *spec.Config
	c.Action = func(ctx *cli.Context) error {
		cfg, _, err := startPlugins(ctx, o)
		config = cfg
		return err
	}
	c.Writer, c.ErrWriter = io.Discard, io.Discard
	err := c.Run([]string{"nvidia-device-plugin"})
	return config, err
}

type manifest struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
	Spec struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Name string `json:"name"`
					Env  []struct {
						Name      string          `json:"name"`
						Value     string          `json:"value"`
						ValueFrom json.RawMessage `json:"valueFrom"`
					} `json:"env"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

func readManifest(path string) (*manifest, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var m manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, raw, nil // not a manifest: a config file (its own error shows when loaded)
	}
	return &m, raw, nil
}

// daemonSetEnv takes the literal environment of the DaemonSet's device plugin container
// (the one that sets CONFIG_FILE), as the kubelet would start it.
func daemonSetEnv(path string) (map[string]string, error) {
	m, _, err := readManifest(path)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Kind != "DaemonSet" {
		return nil, fmt.Errorf("%s: not a DaemonSet manifest", path)
	}
	for _, ctr := range m.Spec.Template.Spec.Containers {
		env := map[string]string{}
		plugin := false
		for _, e := range ctr.Env {
			if len(e.ValueFrom) > 0 {
				continue
			}
			env[e.Name] = e.Value
			plugin = plugin || e.Name == "CONFIG_FILE"
		}
		if plugin {
			delete(env, "CONFIG_FILE")
			return env, nil
		}
	}
	return nil, fmt.Errorf("%s: no container with CONFIG_FILE (the device plugin) in the DaemonSet", path)
}

func writeTemp(dir, text string) (string, error) {
	f, err := os.CreateTemp(dir, "config-*.yaml")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString(text)
	return f.Name(), err
}

func cmdFiles(args []string) int {
	fs := flag.NewFlagSet("files", flag.ExitOnError)
	var envs multiFlag
	fs.Var(&envs, "env", "NAME=VALUE for the plugin's environment (repeatable)")
	daemonset := fs.String("daemonset", "", "DaemonSet manifest whose device plugin container's env is used")
	fs.Parse(args)
	env := map[string]string{}
	if *daemonset != "" {
		e, err := daemonSetEnv(*daemonset)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dpconfigcheck:", err)
			return 2
		}
		env = e
	}
	for _, kv := range envs {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	tmp, err := os.MkdirTemp("", "dpconfigcheck-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dpconfigcheck:", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "dpconfigcheck files: no files given")
		return 2
	}
	envText := formatEnv(env)
	failed, loaded := 0, 0
	for _, path := range fs.Args() {
		m, raw, err := readManifest(path)
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", path, err)
			failed++
			continue
		}
		type entry struct{ name, file string }
		var entries []entry
		if m != nil && m.Kind == "ConfigMap" {
			keys := make([]string, 0, len(m.Data))
			for k := range m.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(keys) == 0 {
				fmt.Printf("FAIL %s: ConfigMap %s has no data entries\n", path, m.Metadata.Name)
				failed++
			}
			for _, k := range keys {
				f, err := writeTemp(tmp, m.Data[k])
				if err != nil {
					fmt.Fprintln(os.Stderr, "dpconfigcheck:", err)
					return 2
				}
				entries = append(entries, entry{fmt.Sprintf("%s [ConfigMap %s, key %s]", path, m.Metadata.Name, k), f})
			}
		} else {
			f, err := writeTemp(tmp, string(raw))
			if err != nil {
				fmt.Fprintln(os.Stderr, "dpconfigcheck:", err)
				return 2
			}
			entries = append(entries, entry{path, f})
		}
		for _, e := range entries {
			loaded++
			config, err := load(e.file, env)
			if err != nil {
				fmt.Printf("FAIL %s: %v\n", e.name, err)
				failed++
				continue
			}
			fmt.Printf("ok   %s: %s\n", e.name, summary(config))
		}
	}
	fmt.Printf("dpconfigcheck (k8s-device-plugin v0.20.0 start-up, env %s): %d config(s) loaded, %d refused\n",
		envText, loaded, failed)
	if failed > 0 || loaded == 0 {
		return 1
	}
	return 0
}

func formatEnv(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+env[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// summary says what the plugin will share, after DisableResourceNamingInConfig.
func summary(config *spec.Config) string {
	strategy := config.Sharing.SharingStrategy()
	rrs := config.Sharing.ReplicatedResources()
	if rrs == nil || len(rrs.Resources) == 0 {
		return fmt.Sprintf("sharing %s, migStrategy %s", strategy, *config.Flags.MigStrategy)
	}
	var parts []string
	for _, r := range rrs.Resources {
		name := string(r.Name)
		if r.Rename != "" {
			name += " as " + string(r.Rename)
		}
		parts = append(parts, fmt.Sprintf("%s x%d", name, r.Replicas))
	}
	fail := "unset"
	if rrs.FailRequestsGreaterThanOne != nil {
		fail = fmt.Sprint(*rrs.FailRequestsGreaterThanOne)
	}
	return fmt.Sprintf("sharing %s (%s; failRequestsGreaterThanOne %s), migStrategy %s",
		strategy, strings.Join(parts, ", "), fail, *config.Flags.MigStrategy)
}

type jsonCase struct {
	ID     string            `json:"id"`
	Config string            `json:"config"`
	Env    map[string]string `json:"env"`
}

type jsonResult struct {
	ID       string          `json:"id"`
	Error    string          `json:"error"`
	Strategy string          `json:"sharing_strategy,omitempty"`
	Config   json.RawMessage `json:"config,omitempty"`
}

func cmdJSON() int {
	var cases []jsonCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "dpconfigcheck json:", err)
		return 2
	}
	tmp, err := os.MkdirTemp("", "dpconfigcheck-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dpconfigcheck:", err)
		return 2
	}
	defer os.RemoveAll(tmp)
	results := make([]jsonResult, 0, len(cases))
	for _, c := range cases {
		f, err := writeTemp(tmp, c.Config)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dpconfigcheck:", err)
			return 2
		}
		res := jsonResult{ID: c.ID}
		config, err := load(f, c.Env)
		if err != nil {
			res.Error = err.Error()
		} else {
			res.Strategy = string(config.Sharing.SharingStrategy())
			raw, err := json.Marshal(config)
			if err != nil {
				res.Error = "marshal: " + err.Error()
			}
			res.Config = raw
		}
		results = append(results, res)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", " ")
	if err := out.Encode(results); err != nil {
		return 2
	}
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	// klog's warnings (DisableResourceNamingInConfig) would mix with our output.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("logtostderr", "false")
	_ = klogFlags.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)

	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dpconfigcheck selfcheck UPSTREAM_MAIN_GO | files [-env K=V] [-daemonset F] FILE... | json")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "selfcheck":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: dpconfigcheck selfcheck UPSTREAM_MAIN_GO")
			os.Exit(2)
		}
		if err := selfCheck(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "dpconfigcheck:", err)
			os.Exit(1)
		}
		fmt.Printf("dpconfigcheck: startup.go matches %s\n", filepath.Clean(os.Args[2]))
	case "files":
		os.Exit(cmdFiles(os.Args[2:]))
	case "json":
		os.Exit(cmdJSON())
	default:
		fmt.Fprintln(os.Stderr, "dpconfigcheck: unknown command", os.Args[1])
		os.Exit(2)
	}
}
