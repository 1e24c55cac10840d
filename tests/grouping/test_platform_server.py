"""Server-side SDKs (Python, PHP, Ruby, .NET, Go): which errors share an issue."""

from platform_table import Case, cases, check, error_event, pair


def pyf(module, function, context_line, in_app=True, lineno=10, abs_path=None):
    """A sentry-python frame."""
    return {
        "module": module,
        "function": function,
        "filename": module.replace(".", "/") + ".py",
        "abs_path": abs_path or "/srv/" + module.replace(".", "/") + ".py",
        "context_line": context_line,
        "pre_context": ["", "def f():"],
        "lineno": lineno,
        "in_app": in_app,
    }


DJANGO = [
    pyf("django.core.handlers.exception", "inner", "response = get_response(request)", False),
    pyf("django.core.handlers.base", "_get_response", "response = wrapped(request)", False),
]
DJANGO_5 = [
    pyf("django.core.handlers.exception", "inner", "response = get_response(request)", False),
    pyf("django.core.handlers.base", "_get_response", "response = callback(request)", False),
    pyf("django.views.decorators.csrf", "_view_wrapper", "return view_func(request)", False),
]
VIEW = pyf("shop.views", "checkout", "total = cart.total / cart.count")

PYTHON = [
    Case(
        "other data in the message and other line numbers: same bug",
        error_event("python", "ZeroDivisionError", "division by zero", [*DJANGO, VIEW]),
        error_event(
            "python",
            "ZeroDivisionError",
            "float division by zero",
            [*DJANGO, {**VIEW, "lineno": 99}],
        ),
        same=True,
    ),
    Case(
        "a Django upgrade changes framework frames, not the app's: the app hash decides",
        error_event("python", "ZeroDivisionError", "x", [*DJANGO, VIEW]),
        error_event("python", "ZeroDivisionError", "x", [*DJANGO_5, VIEW]),
        same=True,
    ),
    Case(
        "the crashing source line changed: Python groups on context lines",
        error_event("python", "ZeroDivisionError", "x", [VIEW]),
        error_event(
            "python",
            "ZeroDivisionError",
            "x",
            [{**VIEW, "context_line": "total = cart.total / len(cart)"}],
        ),
        same=False,
    ),
    Case(
        "indentation of the source line does not matter",
        error_event("python", "KeyError", "'sku'", [VIEW]),
        error_event(
            "python",
            "KeyError",
            "'sku'",
            [{**VIEW, "context_line": "        " + VIEW["context_line"]}],
        ),
        same=True,
    ),
    Case(
        "recursion depth does not split: consecutive identical frames count once",
        error_event("python", "RecursionError", "x", [VIEW] * 3),
        error_event("python", "RecursionError", "x", [VIEW] * 30),
        same=True,
    ),
    Case(
        "project rule from the issue: `stack.module:requests.* -app` keeps the app hash "
        "when only the library path differs",
        error_event(
            "python",
            "ConnectionError",
            "x",
            [VIEW, pyf("requests.api", "get", "return request('get', url)", True)],
        ),
        error_event(
            "python",
            "ConnectionError",
            "x",
            [VIEW, pyf("requests.sessions", "request", "resp = self.send(prep)", True)],
        ),
        same=True,
        project_rules="stack.module:requests.* -app",
    ),
]


def phpf(function, filename, in_app=True, context_line="$total = $cart->total();"):
    return {
        "function": function,
        "filename": filename,
        "abs_path": "/var/www/shop/" + filename,
        "lineno": 12,
        "context_line": context_line,
        "in_app": in_app,
    }


def php_error(*frames):
    return error_event("php", "Error", "Call to a member function total() on null", list(frames))


PHP = [
    pair(
        "anonymous classes are named after their file, line and a per-request counter",
        php_error,
        phpf("class@anonymous\x00/var/www/shop/src/Cart.php:12$0::total", "src/Cart.php"),
        phpf("class@anonymous\x00/var/www/shop/src/Cart.php:12$1a::total", "src/Cart.php"),
        same=True,
    ),
    pair(
        "two methods of the app are two bugs",
        php_error,
        phpf("App\\Cart::total", "src/Cart.php"),
        phpf("App\\Cart::subtotal", "src/Cart.php"),
        same=False,
    ),
    Case(
        "Laravel's vendor frames differ between versions; the SDK marks them out of app",
        php_error(
            phpf("Illuminate\\Pipeline\\Pipeline::then", "vendor/laravel/Pipeline.php", False),
            phpf("App\\Cart::total", "src/Cart.php"),
        ),
        php_error(
            phpf("Illuminate\\Routing\\Router::run", "vendor/laravel/Router.php", False),
            phpf("App\\Cart::total", "src/Cart.php"),
        ),
        same=True,
    ),
]


def rbf(function, filename, in_app=True, context_line="total = cart.items.sum(&:price)"):
    return {
        "function": function,
        "filename": filename,
        "abs_path": "/srv/shop/" + filename,
        "lineno": 7,
        "context_line": context_line,
        "in_app": in_app,
    }


def ruby_error(frame):
    return error_event("ruby", "NoMethodError", "undefined method `price' for nil", [frame])


RUBY = [
    pair(
        "ERB templates compile to methods with per-process numbers (also negative ones)",
        ruby_error,
        rbf("_app_views_carts_show_html_erb___2756823011398004_70128", "show.html.erb"),
        rbf("_app_views_carts_show_html_erb__-1180063432066577_70170", "show.html.erb"),
        same=True,
    ),
    pair(
        "`block (2 levels) in` and `block in` are the same block code, nested differently",
        ruby_error,
        rbf("block (2 levels) in total", "cart.rb"),
        rbf("block in total", "cart.rb"),
        same=True,
    ),
    pair(
        "blocks of different methods are different code",
        ruby_error,
        rbf("block in total", "cart.rb"),
        rbf("block in subtotal", "cart.rb"),
        same=False,
    ),
]


def csf(module, function, in_app=True):
    """A sentry-dotnet frame (StackTraceMode.Original): class in `module`, method in `function`."""
    return {
        "module": module,
        "function": function,
        "package": "Shop, Version=1.4.0.0, Culture=neutral, PublicKeyToken=null",
        "lineno": 31,
        "in_app": in_app,
    }


ASPNET = [
    csf("Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor", "Execute", False),
    csf("System.Runtime.CompilerServices.TaskAwaiter", "ThrowForNonSuccess", False),
]


def dotnet_error(frame):
    return error_event("csharp", "System.InvalidOperationException", "x", [*ASPNET, frame])


DOTNET = [
    pair(
        "async state machines are numbered by the compiler: <CheckoutAsync>d__12 after a "
        "rebuild is <CheckoutAsync>d__13",
        dotnet_error,
        csf("Shop.CartService+<CheckoutAsync>d__12", "MoveNext"),
        csf("Shop.CartService+<CheckoutAsync>d__13", "MoveNext"),
        same=True,
    ),
    pair(
        "closure classes and lambda methods carry ordinals too",
        dotnet_error,
        csf("Shop.CartService+<>c__DisplayClass5_0", "<Total>b__0"),
        csf("Shop.CartService+<>c__DisplayClass7_1", "<Total>b__2"),
        same=True,
    ),
    pair(
        "two async methods are two bugs",
        dotnet_error,
        csf("Shop.CartService+<CheckoutAsync>d__12", "MoveNext"),
        csf("Shop.CartService+<RefundAsync>d__12", "MoveNext"),
        same=False,
    ),
]


def gof(module, function, abs_path, in_app=True):
    """A sentry-go frame: module is the package import path."""
    return {
        "module": module,
        "function": function,
        "abs_path": abs_path,
        "filename": abs_path.rsplit("/", 1)[-1],
        "lineno": 88,
        "in_app": in_app,
    }


def go_error(frame):
    return error_event("go", "*errors.errorString", "cart is empty", [frame])


GO = [
    pair(
        "module over path: the same package built in CI and on a laptop",
        go_error,
        gof("github.com/shop/api/cart", "(*Cart).Checkout", "/build/cart/cart.go"),
        gof(
            "github.com/shop/api/cart",
            "(*Cart).Checkout",
            "/home/dev/go/pkg/mod/github.com/shop/api@v1.2.3/cart/cart.go",
        ),
        same=True,
    ),
    pair(
        "two methods are two bugs",
        go_error,
        gof("github.com/shop/api/cart", "(*Cart).Checkout", "/build/cart/cart.go"),
        gof("github.com/shop/api/cart", "(*Cart).Refund", "/build/cart/cart.go"),
        same=False,
    ),
]


@cases(PYTHON)
def test_python(case):
    check(case)


@cases(PHP)
def test_php(case):
    check(case)


@cases(RUBY)
def test_ruby(case):
    check(case)


@cases(DOTNET)
def test_dotnet(case):
    check(case)


@cases(GO)
def test_go(case):
    check(case)
