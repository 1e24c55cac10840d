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


CASES = [
    Case(
        "lambda classes are numbered per JVM run: $$Lambda$1234/0x… is one lambda",
        npe(*THREAD, jf("shop.Cart$$Lambda$1234/0x0000000800c4b040", "accept", True)),
        npe(*THREAD, jf("shop.Cart$$Lambda$87/0x00000008001a2c40", "accept", True)),
        same=True,
    ),
    Case(
        "Spring's CGLIB proxy classes get a new hash suffix per start",
        npe(*THREAD, jf("shop.CartService$$EnhancerBySpringCGLIB$$1a2b3c4d", "total", True)),
        npe(*THREAD, jf("shop.CartService$$EnhancerBySpringCGLIB$$9f8e7d6c", "total", True)),
        same=True,
    ),
    Case(
        "FastClassByCGLIB invokers are generated like enhancers",
        npe(*THREAD, jf("shop.CartService$$FastClassBySpringCGLIB$$0a1b2c", "invoke", True)),
        npe(*THREAD, jf("shop.CartService$$FastClassBySpringCGLIB$$d4e5f6", "invoke", True)),
        same=True,
    ),
    Case(
        "Hibernate proxies of an entity are one class",
        npe(*THREAD, jf("shop.Customer$HibernateProxy$aBcD1234", "getName", True)),
        npe(*THREAD, jf("shop.Customer$HibernateProxy$ZyXw9876", "getName", True)),
        same=True,
    ),
    Case(
        "javassist proxies (old Hibernate): _$$_jvst… suffixes",
        npe(*THREAD, jf("shop.Customer_$$_jvst4a1_2", "getName", True)),
        npe(*THREAD, jf("shop.Customer_$$_jvst9f3_17", "getName", True)),
        same=True,
    ),
    Case(
        "Clojure's fn__1234 class names are compiler counters",
        npe(*THREAD, jf("shop.core$checkout$fn__1234", "invoke", True)),
        npe(*THREAD, jf("shop.core$checkout$fn__5678", "invoke", True)),
        same=True,
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
        "two methods of the app are two bugs",
        npe(*THREAD, jf("shop.Cart", "total", True)),
        npe(*THREAD, jf("shop.Cart", "subtotal", True)),
        same=False,
    ),
    Case(
        "another exception type at the same place is another bug",
        npe(*THREAD, jf("shop.Cart", "total", True)),
        npe(
            *THREAD,
            jf("shop.Cart", "total", True),
            exc_type="java.lang.IllegalStateException",
        ),
        same=False,
    ),
    Case(
        "Kotlin: lambdas inside one function compile to numbered $$Lambda classes too",
        npe(*THREAD, jf("shop.CartKt$$Lambda$12/0x0000000800b3e000", "invoke", True)),
        npe(*THREAD, jf("shop.CartKt$$Lambda$340/0x00000008003f2840", "invoke", True)),
        same=True,
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
