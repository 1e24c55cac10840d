"""JVM grouping (sentry-java, sentry-android, Kotlin, Clojure): which exceptions share an issue."""

from platform_table import Case, cases, check, error_event


def jf(module, function, in_app=False, filename=None, lineno=42):
    """A sentry-java frame: `module` is the class, `function` the method."""
    return {
        "module": module,
        "function": function,
        "filename": filename or module.rsplit(".", 1)[-1].split("$")[0] + ".java",
        "lineno": lineno,
        "in_app": in_app,
    }


THREAD = [jf("java.lang.Thread", "run"), jf("java.util.concurrent.ThreadPoolExecutor", "runWorker")]
JDK8_REFLECTION = [
    jf("sun.reflect.GeneratedMethodAccessor231", "invoke"),
    jf("sun.reflect.DelegatingMethodAccessorImpl", "invoke"),
    jf("java.lang.reflect.Method", "invoke"),
]
JDK17_REFLECTION = [
    jf("jdk.internal.reflect.DirectMethodHandleAccessor", "invoke"),
    jf("java.lang.reflect.Method", "invoke"),
]
SPRING = [jf("org.springframework.aop.support.AopUtils", "invokeJoinpointUsingReflection")]


def npe(*frames, exc_type="java.lang.NullPointerException"):
    return error_event("java", exc_type, 'Cannot invoke "Cart.total()"', list(frames))


def app_frame(reason, first, second, same, **extra):
    """Two NullPointerExceptions whose in-app top frame is (module, function) `first` / `second`."""
    return Case(
        reason, npe(*THREAD, jf(*first, True)), npe(*THREAD, jf(*second, True)), same, **extra
    )


CASES = [
    app_frame(
        "lambda classes are numbered per JVM run: $$Lambda$1234/0x… is one lambda",
        ("shop.Cart$$Lambda$1234/0x0000000800c4b040", "accept"),
        ("shop.Cart$$Lambda$87/0x00000008001a2c40", "accept"),
        same=True,
    ),
    app_frame(
        "Spring's CGLIB proxy classes get a new hash suffix per start",
        ("shop.CartService$$EnhancerBySpringCGLIB$$1a2b3c4d", "total"),
        ("shop.CartService$$EnhancerBySpringCGLIB$$9f8e7d6c", "total"),
        same=True,
    ),
    app_frame(
        "FastClassByCGLIB invokers are generated like enhancers",
        ("shop.CartService$$FastClassBySpringCGLIB$$0a1b2c", "invoke"),
        ("shop.CartService$$FastClassBySpringCGLIB$$d4e5f6", "invoke"),
        same=True,
    ),
    app_frame(
        "Hibernate proxies of an entity are one class",
        ("shop.Customer$HibernateProxy$aBcD1234", "getName"),
        ("shop.Customer$HibernateProxy$ZyXw9876", "getName"),
        same=True,
    ),
    app_frame(
        "javassist proxies (old Hibernate): _$$_jvst… suffixes",
        ("shop.Customer_$$_jvst4a1_2", "getName"),
        ("shop.Customer_$$_jvst9f3_17", "getName"),
        same=True,
    ),
    app_frame(
        "Clojure's fn__1234 class names are compiler counters",
        ("shop.core$checkout$fn__1234", "invoke"),
        ("shop.core$checkout$fn__5678", "invoke"),
        same=True,
    ),
    app_frame(
        "Kotlin: lambdas inside one function compile to numbered $$Lambda classes too",
        ("shop.CartKt$$Lambda$12/0x0000000800b3e000", "invoke"),
        ("shop.CartKt$$Lambda$340/0x00000008003f2840", "invoke"),
        same=True,
    ),
    app_frame(
        "two methods of the app are two bugs",
        ("shop.Cart", "total"),
        ("shop.Cart", "subtotal"),
        same=False,
    ),
    Case(
        "dynamic proxies: $Proxy123 in jdk.proxy2 (JDK 17) or com.sun.proxy (JDK 8) are plumbing",
        npe(*THREAD, jf("jdk.proxy2.$Proxy123", "total"), jf("shop.Cart", "total", True)),
        npe(*THREAD, jf("com.sun.proxy.$Proxy45", "total"), jf("shop.Cart", "total", True)),
        same=True,
        variant=-1,
    ),
    Case(
        "the same library crash on JDK 8 and JDK 17: reflection plumbing differs and is "
        "out of the group, so the system hash (no in-app frames here) still matches",
        npe(*THREAD, *SPRING, *JDK8_REFLECTION, jf("org.hibernate.Session", "load")),
        npe(*THREAD, *SPRING, *JDK17_REFLECTION, jf("org.hibernate.Session", "load")),
        same=True,
    ),
    Case(
        "the same app frames reached through different framework code: the app hash "
        "decides, framework frames are not in-app",
        npe(*THREAD, *SPRING, jf("shop.Cart", "total", True)),
        npe(*THREAD, jf("org.apache.catalina.Valve", "invoke"), jf("shop.Cart", "total", True)),
        same=True,
    ),
    Case(
        "another exception type at the same place is another bug",
        npe(*THREAD, jf("shop.Cart", "total", True)),
        npe(*THREAD, jf("shop.Cart", "total", True), exc_type="java.lang.IllegalStateException"),
        same=False,
    ),
    Case(
        "the SDK's own frames (a logging integration captured the error) never count",
        npe(
            *THREAD,
            jf("shop.Cart", "total", True),
            jf("io.sentry.logback.SentryAppender", "append"),
        ),
        npe(*THREAD, jf("shop.Cart", "total", True)),
        same=True,
        variant=-1,
    ),
]


@cases(CASES)
def test_jvm(case):
    check(case)
