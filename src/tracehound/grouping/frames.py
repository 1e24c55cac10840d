"""What a stack frame contributes to the group: module or file name, function, source line.

Line and column numbers never contribute, so editing code above a crash keeps its issue.
"""

from __future__ import annotations

import re
from typing import Any

from tracehound.grouping.config import JAVASCRIPT_PLATFORMS, GroupingConfig
from tracehound.grouping.enhancers import Enhancements, FrameStates
from tracehound.grouping.native import NATIVE_PLATFORMS, trim_native_function

Frame = dict[str, Any]

_IGNORED_FUNCTIONS = frozenset({"?", "<anonymous>", "<anonymous function>", "Anonymous function"})
# Frames that say nothing stable about the code: eval'd strings and engine internals.
_LOW_QUALITY_JS = frozenset({"[native code]", "native", "eval code", "<anonymous>"})
_NON_FILE_PATHS = frozenset({"<anonymous>", "[native code]"})
# Scripts loaded from a URL: their file name is a deployment detail (CDN, hash, host).
_URL_PREFIXES = ("http:", "https:", "file:", "blob:", "applewebdata:")
# For grouping, a `file://` path (Electron, React Native, local pages) is a real file
# whose name is kept, as Sentry keeps it: only remote origins are dropped.
_REMOTE_PREFIXES = ("http:", "https:", "blob:", "applewebdata:")

# Generated class and function names whose suffix changes from build to build or run to run.
_JAVA_LAMBDA = re.compile(r"\$\$Lambda\$?[\d$]*(?:/(?:0x)?[0-9a-fA-F]+)?")
_JAVA_CGLIB = re.compile(r"\$\$(EnhancerBy\w*CGLIB|FastClassBy\w*CGLIB)\$\$[0-9a-fA-F]+")
_JAVA_JAVASSIST = re.compile(r"_\$\$_(?:javassist\w*?_?\d+|jvst[0-9a-fA-F]*_[0-9a-fA-F]+)")
_JAVA_HIBERNATE = re.compile(r"\$HibernateProxy\$\w+")
_JAVA_ACCESSOR = re.compile(r"\b(Generated(?:Serialization)?(?:Method|Constructor)Accessor)\d+")
_JAVA_PROXY = re.compile(r"\$Proxy\d+")
_CLOJURE_GENERATED = re.compile(r"\$(fn|eval|reify|proxy)__?\d+")
# .NET compiler-generated closure, lambda and async state-machine names carry ordinals.
_DOTNET_GENERATED = re.compile(r"(<>c__DisplayClass|>d__|>b__|>g__\w*?\|)\d+(?:_\d+)?")
_PHP_ANONYMOUS_CLASS = re.compile(r"class@anonymous[^\s:$]*(?::\d+)?\$[0-9a-fA-F]+")
_RUBY_ERB_SUFFIX = re.compile(r"(?<=_erb)_+-?\d{3,}_-?\d{3,}$")
_RUBY_BLOCK_LEVELS = re.compile(r"^block \(\d+ levels\) in ")


def is_url(path: str) -> bool:
    return path.startswith(_URL_PREFIXES)


def _looks_like_url_path(module: str) -> bool:
    return "/" in module or "\\" in module


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


def normalize_module(module: str, platform: str) -> str:
    if platform == "java" and "$" in module:
        module = _JAVA_LAMBDA.sub("$$Lambda$", module)
        module = _JAVA_CGLIB.sub(r"$$\1$$<auto>", module)
        module = _JAVA_JAVASSIST.sub("_$$_javassist<auto>", module)
        module = _JAVA_HIBERNATE.sub("$HibernateProxy$<auto>", module)
        module = _JAVA_PROXY.sub("$Proxy<auto>", module)
        module = _CLOJURE_GENERATED.sub(r"$\1__<auto>", module)
    if platform == "java" and "Accessor" in module:
        module = _JAVA_ACCESSOR.sub(r"\1<auto>", module)
    elif platform == "csharp" and "__" in module:
        module = _DOTNET_GENERATED.sub(r"\1<auto>", module)
    return module


def native_function(frame: Frame) -> str | None:
    """Native frames: the untrimmed `raw_function` when there is one (it trims the same
    across symbolicators), else `function`, else the `symbol`."""
    for key in ("raw_function", "function", "symbol"):
        value = frame.get(key)
        if value and type(value) is str:
            trimmed = trim_native_function(value)
            return None if trimmed in _IGNORED_FUNCTIONS else trimmed
    return None


def trim_function(function: str, platform: str, config: GroupingConfig) -> str | None:
    """The function name as it groups, or None when the name carries no signal."""
    if platform in JAVASCRIPT_PLATFORMS:
        if config.javascript_fuzzing and "." in function:
            function = function.rsplit(".", 1)[-1]
        if function.endswith("/<"):
            return None
    elif platform in NATIVE_PLATFORMS:
        return trim_native_function(function)
    elif platform == "java":
        if "$" in function:
            function = _JAVA_LAMBDA.sub("$$Lambda$", function)
            function = _CLOJURE_GENERATED.sub(r"$\1__<auto>", function)
    elif platform == "csharp" and "__" in function:
        function = _DOTNET_GENERATED.sub(r"\1<auto>", function)
    elif platform == "php" and "class@anonymous" in function:
        function = _PHP_ANONYMOUS_CLASS.sub("class@anonymous", function)
    elif platform == "ruby":
        if function.startswith("block ("):
            function = _RUBY_BLOCK_LEVELS.sub("block in ", function)
        if "_erb_" in function:
            function = _RUBY_ERB_SUFFIX.sub("", function)
    if not function or function in _IGNORED_FUNCTIONS:
        return None
    return function


def frame_platform(frame: Frame, platform: str) -> str:
    """The frame's own platform when it names one (a string), else the event's."""
    own = frame.get("platform")
    return own if own and isinstance(own, str) else platform


def frame_values(frame: Frame, platform: str, config: GroupingConfig) -> list[str]:
    """The frame's contributing values in tree order: module|filename, function, context line."""
    get = frame.get
    is_js = platform in JAVASCRIPT_PLATFORMS
    abs_path = get("abs_path")
    function = get("function")
    if is_js and (function == "eval" or (type(abs_path) is str and abs_path in _LOW_QUALITY_JS)):
        return []  # eval'd strings and engine internals say nothing stable about the code
    values: list[str] = []

    module = get("module")
    if module and type(module) is str and not (is_js and _looks_like_url_path(module)):
        values.append(normalize_module(module, platform))
    else:
        filename = get("filename")
        path = abs_path or filename
        if (
            filename
            and type(filename) is str
            and type(path) is str
            and path not in _NON_FILE_PATHS
            and not path.startswith(_REMOTE_PREFIXES)
        ):
            values.append(basename(filename).lower())

    context_line = None
    if platform in config.contextline_platforms:
        raw_line = get("context_line")
        if raw_line and type(raw_line) is str:
            line = " ".join(raw_line.split())
            if line and len(line) <= config.max_context_line_length:
                context_line = line

    # A source-mapped JS name is a guess; its source line is the better signal.
    mapped = is_js and context_line is not None and _has_sourcemap(frame)
    if platform in NATIVE_PLATFORMS:
        native = native_function(frame)
        if native:
            values.append(native)
    elif function and type(function) is str and not mapped:
        trimmed = trim_function(function, platform, config)
        if trimmed:
            values.append(trimmed)

    if context_line is not None:
        values.append(context_line)
    return values


def _has_sourcemap(frame: Frame) -> bool:
    data = frame.get("data")
    return isinstance(data, dict) and bool(data.get("sourcemap"))


def is_in_app(frame: Frame, platform: str) -> bool:
    if frame.get("in_app") is not True:
        return False
    # Built-in stack-trace rule: JavaScript dependencies are never app code.
    if platform in JAVASCRIPT_PLATFORMS:
        for key in ("abs_path", "filename", "module"):
            value = frame.get(key)
            if isinstance(value, str) and "node_modules/" in value:
                return False
    return True


def frame_states(
    frames: list[Frame],
    platform: str,
    config: GroupingConfig,
    rules: Enhancements | None = None,
    exception: dict[str, Any] | None = None,
) -> FrameStates:
    """In-app and contributes flags of `frames` (dicts, oldest first) after the config's
    built-in stack-trace rules and then the project's `rules`."""
    states = config.builtin_rules.apply(frames, platform, exception)
    if rules is not None:
        states = rules.apply(frames, platform, exception, states)
    return states


def stacktrace_values(
    stacktrace: Any,
    platform: str,
    config: GroupingConfig,
    rules: Enhancements | None = None,
    exception: dict[str, Any] | None = None,
) -> tuple[list[str], list[str]]:
    """(app values, system values) of a stack trace, oldest frame first.

    The built-in stack-trace rules of the config run first, then the project's `rules`:
    they decide which frames are in-app and which contribute at all. The app list holds
    only in-app frames; the system list holds every contributing one. Consecutive
    identical frames (recursion) count once.
    """
    if not isinstance(stacktrace, dict):
        return [], []
    raw_frames = stacktrace.get("frames")
    if not isinstance(raw_frames, list) or not raw_frames:
        return [], []
    frames = [frame for frame in raw_frames if type(frame) is dict]
    states = frame_states(frames, platform, config, rules, exception)
    in_app = states.in_app
    contributes = states.contributes
    app: list[list[str]] = []
    system: list[list[str]] = []
    previous: tuple[Any, ...] | None = None
    for index, frame in enumerate(frames):
        get = frame.get
        key = (
            get("abs_path"),
            get("package"),
            get("module"),
            get("filename"),
            get("function"),
            get("lineno"),
            get("colno"),
        )
        if key == previous:
            continue
        previous = key
        if not contributes[index]:
            continue
        values = frame_values(frame, frame_platform(frame, platform), config)
        if values:
            system.append(values)
            if in_app[index]:
                app.append(values)
    return _limited(app, states), _limited(system, states)


def _limited(frames: list[list[str]], states: FrameStates) -> list[str]:
    """`max-frames` keeps the frames nearest the crash; under `min-frames` the stack says nothing."""
    if states.min_frames and len(frames) < states.min_frames:
        return []
    if states.max_frames and len(frames) > states.max_frames:
        frames = frames[-states.max_frames :]
    return [value for values in frames for value in values]
