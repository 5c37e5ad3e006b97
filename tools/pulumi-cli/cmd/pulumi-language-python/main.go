// Command pulumi-language-python is releasegate's build of the Python language host: the plugin the
// Pulumi engine starts for `runtime: python` projects.
//
// Why our own: Pulumi's own language host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) that the Go module proxy does not
// serve (it is never tagged, and its go.mod points at sibling folders), so it cannot be built from
// published modules. This host implements the same gRPC service (pulumirpc.LanguageRuntimeServer) on top
// of the published github.com/pulumi/pulumi/sdk/v3 module — the same toolchain package (pip, uv,
// poetry, virtualenv activation) the upstream host uses — and covers everything `pulumi preview`, `up`,
// `refresh`, `destroy`, `install`, `about` and policy packs need:
//
//   - Handshake, GetPluginInfo, About, RuntimeOptionsPrompts
//   - GetRequiredPackages / GetRequiredPlugins: the pulumi-* distributions installed in the program's
//     environment, read from their pulumi-plugin.json like upstream (resource: false means no plugin)
//   - Run: runs `<python> -u pulumi-language-python-exec --monitor ... PROGRAM ARGS` in the project's
//     toolchain environment; exit code 32 means "the program already reported the error" (bail)
//   - InstallDependencies, GetProgramDependencies
//   - RunPlugin: Python plugins and policy packs (`python -u -m pulumi.policy ENGINE PACKDIR`)
//
// Code generation RPCs (GenerateProgram, GenerateProject, GeneratePackage, Pack, Link, Template) answer
// Unimplemented: `pulumi convert`, `pulumi package add` and `pulumi new` from a non-Python template are
// not available with this build.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// The executor script installed next to this binary.
	executorName = "pulumi-language-python-exec"
	// Exit code with which the executor says "the error was already shown to the user".
	bailExitCode = 32
)

func main() {
	var tracing, givenExecutor, flagRoot, flagVirtualenv, flagToolchain, flagTypechecker string
	flag.StringVar(&tracing, "tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	flag.StringVar(&givenExecutor, "use-executor", "", "Use this executor script instead of the one next to the binary")
	// Older engines passed the runtime options as flags; newer ones send them with every request.
	flag.StringVar(&flagRoot, "root", "", "Project root (legacy engines)")
	flag.StringVar(&flagVirtualenv, "virtualenv", "", "Virtual environment, relative to the project root (legacy engines)")
	flag.StringVar(&flagToolchain, "toolchain", "", "pip, poetry or uv (legacy engines)")
	flag.StringVar(&flagTypechecker, "typechecker", "", "mypy or pyright (legacy engines)")
	flag.Parse()
	logging.InitLogging(false, 0, false)
	cmdutil.InitTracing("pulumi-language-python", "pulumi-language-python", tracing)

	executor := givenExecutor
	if executor == "" {
		self, err := os.Executable()
		if err != nil {
			cmdutil.Exit(fmt.Errorf("could not determine the language host's own path: %w", err))
		}
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		executor = filepath.Join(filepath.Dir(self), executorName)
	}
	if _, err := os.Stat(executor); err != nil {
		cmdutil.Exit(fmt.Errorf("missing executor %s: %w", executor, err))
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	cwd, err := os.Getwd()
	if err != nil {
		cmdutil.Exit(fmt.Errorf("getting the working directory: %w", err))
	}
	legacy := map[string]any{}
	for key, value := range map[string]string{
		"virtualenv": flagVirtualenv, "toolchain": flagToolchain, "typechecker": flagTypechecker,
	} {
		if value != "" {
			legacy[key] = value
		}
	}
	if flagRoot == "" {
		flagRoot = cwd
	}

	host := &languageHost{
		executor:       executor,
		engineAddress:  engineAddress,
		tracing:        tracing,
		legacyRoot:     flagRoot,
		legacyOptions:  legacy,
		fallbackCwdDir: cwd,
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor      string
	tracing       string
	legacyRoot    string
	legacyOptions map[string]any
	// Used when a request carries no program information at all (very old engines).
	fallbackCwdDir string

	mu            sync.Mutex
	engineAddress string
}

func (h *languageHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// programInfo returns the project root, the program directory and the runtime options of a request,
// filling in what older engines did not send.
func (h *languageHost) programInfo(info *pulumirpc.ProgramInfo, pwd string) (string, string, map[string]any) {
	options := map[string]any{}
	for k, v := range h.legacyOptions {
		options[k] = v
	}
	root, programDir := h.legacyRoot, pwd
	if info != nil {
		if info.GetRootDirectory() != "" {
			root = info.GetRootDirectory()
		}
		if info.GetProgramDirectory() != "" {
			programDir = info.GetProgramDirectory()
		}
		if info.GetOptions() != nil {
			for k, v := range info.GetOptions().AsMap() {
				options[k] = v
			}
		}
	}
	if programDir == "" {
		programDir = h.fallbackCwdDir
	}
	if root == "" {
		root = programDir
	}
	return root, programDir, options
}

// pythonOptions validates Pulumi.yaml's runtime options the way the upstream host does.
func pythonOptions(root, programDir string, options map[string]any) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: root, ProgramDir: programDir}
	str := func(key string) (string, error) {
		raw, ok := options[key]
		if !ok || raw == nil {
			return "", nil
		}
		s, ok := raw.(string)
		if !ok {
			return "", fmt.Errorf("the runtime option %q in Pulumi.yaml must be a string, got %v", key, raw)
		}
		return strings.TrimSpace(s), nil
	}
	var err error
	if opts.Virtualenv, err = str("virtualenv"); err != nil {
		return opts, err
	}
	checker, err := str("typechecker")
	if err != nil {
		return opts, err
	}
	switch strings.ToLower(checker) {
	case "":
		opts.Typechecker = toolchain.TypeCheckerNone
	case "mypy":
		opts.Typechecker = toolchain.TypeCheckerMypy
	case "pyright":
		opts.Typechecker = toolchain.TypeCheckerPyright
	default:
		return opts, fmt.Errorf("unsupported typechecker option %q in Pulumi.yaml: use mypy or pyright", checker)
	}
	tc, err := str("toolchain")
	if err != nil {
		return opts, err
	}
	switch strings.ToLower(tc) {
	case "":
		opts.Toolchain = toolchain.Auto
		if opts.Virtualenv != "" {
			opts.Toolchain = toolchain.Pip
		}
	case "pip":
		opts.Toolchain = toolchain.Pip
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	default:
		return opts, fmt.Errorf("unsupported toolchain option %q in Pulumi.yaml: use pip, poetry or uv", tc)
	}
	return opts, nil
}

func (h *languageHost) toolchainFor(
	info *pulumirpc.ProgramInfo, pwd string,
) (toolchain.Toolchain, toolchain.PythonOptions, error) {
	root, programDir, options := h.programInfo(info, pwd)
	opts, err := pythonOptions(root, programDir, options)
	if err != nil {
		return nil, opts, err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	return tc, opts, err
}

// pluginJSON is the subset of a package's pulumi-plugin.json the engine needs.
type pluginJSON struct {
	Resource         bool   `json:"resource"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	Server           string `json:"server"`
	Parameterization *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   []byte `json:"value"` // base64 in the file, which encoding/json decodes for []byte
	} `json:"parameterization"`
}

type installedPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Plugin  json.RawMessage `json:"plugin"`
}

// listPulumiPackages asks the program's Python for every installed pulumi-* distribution and its
// top-level pulumi-plugin.json (one interpreter start instead of one `pip show` per package).
const listPulumiPackagesScript = `
import importlib.metadata as md, json, sys
found = {}
for dist in md.distributions():
    name = (dist.metadata["Name"] or "").lower().replace("_", "-")
    if not name.startswith("pulumi-") or name in found:
        continue
    plugin = None
    for f in dist.files or []:
        if len(f.parts) == 2 and f.name in ("pulumi-plugin.json", "pulumiplugin.json"):
            try:
                plugin = json.loads(f.read_text())
            except Exception:
                plugin = None
            if f.name == "pulumi-plugin.json":
                break
    found[name] = {"name": name, "version": dist.version, "plugin": plugin}
json.dump(list(found.values()), sys.stdout)
`

// Packages known to have no plugin even when they ship no pulumi-plugin.json.
var packagesWithoutPlugins = map[string]bool{"pulumi-policy": true}

func (h *languageHost) requiredPackages(
	ctx context.Context, info *pulumirpc.ProgramInfo,
) ([]*pulumirpc.PackageDependency, error) {
	tc, _, err := h.toolchainFor(info, "")
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPulumiPackagesScript)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the installed pulumi packages with %s: %w%s", cmd.Path, err, stderrOf(err))
	}
	var installed []installedPackage
	if err := json.Unmarshal(out, &installed); err != nil {
		return nil, fmt.Errorf("parsing the installed pulumi packages: %w", err)
	}
	var deps []*pulumirpc.PackageDependency
	for _, pkg := range installed {
		var plugin *pluginJSON
		if len(pkg.Plugin) > 0 && string(pkg.Plugin) != "null" {
			plugin = &pluginJSON{}
			if err := json.Unmarshal(pkg.Plugin, plugin); err != nil {
				return nil, fmt.Errorf("reading pulumi-plugin.json of %s: %w", pkg.Name, err)
			}
		}
		dep := pluginDependency(pkg, plugin)
		if dep != nil {
			deps = append(deps, dep)
		}
	}
	logging.V(5).Infof("GetRequiredPackages: %v", deps)
	return deps, nil
}

// pluginDependency maps an installed distribution to the plugin it needs, or nil for none.
func pluginDependency(pkg installedPackage, plugin *pluginJSON) *pulumirpc.PackageDependency {
	name, ver, server := "", "", ""
	dep := &pulumirpc.PackageDependency{Kind: "resource"}
	if plugin != nil {
		if !plugin.Resource {
			return nil
		}
		name, ver, server = plugin.Name, plugin.Version, plugin.Server
		if p := plugin.Parameterization; p != nil {
			pv := p.Version
			if pv != "" && !strings.HasPrefix(pv, "v") {
				pv = "v" + pv
			}
			dep.Parameterization = &pulumirpc.PackageParameterization{Name: p.Name, Version: pv, Value: p.Value}
		}
	} else if packagesWithoutPlugins[pkg.Name] {
		return nil
	}
	if name == "" {
		name = strings.TrimPrefix(pkg.Name, "pulumi-")
	}
	if ver == "" {
		// Only a plain X.Y.Z distribution version maps onto a plugin version; pre-releases such as
		// 3.1.0a123 carry no build metadata to rebuild the plugin's version from, so they are skipped.
		if _, err := semver.Parse(pkg.Version); err != nil {
			logging.V(5).Infof("no plugin version for %s %s", pkg.Name, pkg.Version)
			return nil
		}
		ver = pkg.Version
	}
	if !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	dep.Name, dep.Version, dep.Server = name, ver, server
	return dep
}

func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *languageHost) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		if d.GetParameterization() != nil {
			continue // a parameterized package cannot be expressed as a plain plugin
		}
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.GetName(), Kind: d.GetKind(), Version: d.GetVersion(), Server: d.GetServer(),
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// typecheck runs mypy or pyright over the program directory when Pulumi.yaml asks for it.
func typecheck(ctx context.Context, tc toolchain.Toolchain, opts toolchain.PythonOptions) error {
	var module string
	switch opts.Typechecker {
	case toolchain.TypeCheckerMypy:
		module = "mypy"
	case toolchain.TypeCheckerPyright:
		module = "pyright"
	default:
		return nil
	}
	cmd, err := tc.ModuleCommand(ctx, module, opts.ProgramDir)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s type checking failed: %w", module, err)
	}
	return nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return nil, status.Error(codes.Unimplemented, "this build of pulumi-language-python cannot attach a debugger")
	}
	tc, opts, err := h.toolchainFor(req.GetInfo(), req.GetPwd())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	if err := typecheck(ctx, tc, opts); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	program := req.GetProgram()
	if info := req.GetInfo(); info != nil && info.GetEntryPoint() != "" {
		program = filepath.Join(opts.ProgramDir, info.GetEntryPoint())
	}
	if program == "" {
		program = "."
	}

	args := []string{"-u", h.executor}
	add := func(flagName, value string) {
		if value != "" {
			args = append(args, "--"+flagName, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	add("organization", req.GetOrganization())
	add("root_directory", opts.Root)
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // "null" would reach the SDK as config None
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, fmt.Errorf("serializing the stack configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing the secret configuration keys: %w", err)
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(keys))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	logging.V(5).Infof("language host launching %s %s", cmd.Path, strings.Join(args, " "))

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// streamWriter forwards a process's output over a gRPC server stream; Send is not safe for concurrent use.
type streamWriter struct {
	mu   *sync.Mutex
	send func([]byte) error
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := append([]byte(nil), p...)
	if err := w.send(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	ctx := server.Context()
	tc, opts, err := h.toolchainFor(req.GetInfo(), req.GetDirectory())
	if err != nil {
		return err
	}
	var mu sync.Mutex
	stdout := streamWriter{&mu, func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	}}
	stderr := streamWriter{&mu, func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
	}}
	if err := tc.InstallDependencies(ctx, dependencyDir(opts), req.GetUseLanguageVersionTools(),
		true /*showOutput*/, stdout, stderr); err != nil {
		return err
	}
	return tc.ValidateVenv(ctx)
}

// dependencyDir is where the project's requirements live: the project root (next to Pulumi.yaml, also
// with `main: infra/`), unless only the program folder has a requirements file.
func dependencyDir(opts toolchain.PythonOptions) string {
	has := func(dir string) bool {
		for _, name := range []string{"requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return true
			}
		}
		return false
	}
	if !has(opts.Root) && opts.ProgramDir != "" && has(opts.ProgramDir) {
		return opts.ProgramDir
	}
	return opts.Root
}

func (h *languageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, opts, err := h.toolchainFor(req.GetInfo(), "")
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata: map[string]string{
			"toolchain":        toolchain.Name(opts.Toolchain),
			"toolchainVersion": info.ToolchainVersion.String(),
			"typechecker":      toolchain.TypeCheckerName(opts.Typechecker),
		},
	}, nil
}

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, _, err := h.toolchainFor(req.GetInfo(), req.GetPwd())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(pkgs))
	for _, p := range pkgs {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// RunPlugin runs a plugin written in Python: a policy pack (kind "analyzer") through the SDK's
// `pulumi.policy` runner, which executes the pack's __main__.py with the engine address; anything else by
// running the plugin directory's __main__.py with the engine's arguments.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	ctx := server.Context()
	if req.GetAttachDebugger() {
		return status.Error(codes.Unimplemented, "this build of pulumi-language-python cannot attach a debugger")
	}
	tc, opts, err := h.toolchainFor(req.GetInfo(), req.GetPwd())
	if err != nil {
		return err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return err
	}
	program := opts.ProgramDir
	if info := req.GetInfo(); info != nil && info.GetEntryPoint() != "" {
		program = filepath.Join(opts.ProgramDir, info.GetEntryPoint())
	}
	var args []string
	if req.GetKind() == "analyzer" {
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, program)
	} else {
		args = append([]string{"-u", program}, req.GetArgs()...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	if venv, verr := tc.VirtualEnvPath(ctx); verr == nil && venv != "" {
		env = toolchain.ActivateVirtualEnv(validEnv(env), venv)
	}
	cmd.Env = env
	cmd.Dir = req.GetPwd()
	var mu sync.Mutex
	cmd.Stdout = streamWriter{&mu, func(b []byte) error {
		return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	}}
	cmd.Stderr = streamWriter{&mu, func(b []byte) error {
		return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	}}
	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("running plugin %s: %w", program, err)
		}
		code = exitErr.ExitCode()
	}
	mu.Lock()
	defer mu.Unlock()
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// validEnv drops malformed entries (ActivateVirtualEnv asserts every entry is KEY=VALUE).
func validEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}

func stderrOf(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(exitErr.Stderr))
	}
	return ""
}

// Interfaces this file relies on staying in the SDK.
var (
	_ pulumirpc.LanguageRuntimeServer = (*languageHost)(nil)
	_ io.Writer                       = streamWriter{}
)
