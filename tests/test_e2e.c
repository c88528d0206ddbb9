/* tests/test_e2e.c — the whole chain through the real `ctxbench` binary
 * ($CTXBENCH_BIN, set by `make test`): platform description, a tiny experiment
 * into a temporary database, resumption (nothing re-measured), the report,
 * db runs/show/check, a bad experiment file (refused, nothing written), a
 * run interrupted by SIGINT or killed with SIGKILL (marked interrupted), and
 * two processes writing one database at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TINY "tests/fixtures/experiments/tiny.ini"

static char tmpdir[64];
static char db_path[128];
static const char *bin;

/* Runs a shell command, captures stdout+stderr into out (cap bytes); returns
 * the exit status. */
static int sh(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[2200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void expect_in(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected '%s' in:\n%s", needle, haystack);
}

static int setup(void **state)
{
    (void)state;
    bin = getenv("CTXBENCH_BIN");
    if (!bin)
        bin = "bin/ctxbench";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ctxbench-e2e-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(db_path, sizeof db_path, "%s/results.db", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char out[256];
    sh(out, sizeof out, "rm -rf %s", tmpdir);
    return 0;
}

static void test_01_help_and_unknown(void **state)
{
    (void)state;
    static char out[8192];
    assert_int_equal(sh(out, sizeof out, "%s --help", bin), 0);
    expect_in(out, "platform");
    const char *subs[] = {"platform", "run", "db", "report"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sh(out, sizeof out, "%s %s --help", bin, subs[i]), 0);
        expect_in(out, "usage: ctxbench");
    }
    assert_int_not_equal(sh(out, sizeof out, "%s frobnicate", bin), 0);
    expect_in(out, "ctxbench: unknown subcommand 'frobnicate'");
}

static void test_02_platform_xml_fixtures(void **state)
{
    (void)state;
    static char out[16384];
    assert_int_equal(sh(out, sizeof out, "%s platform --xml tests/fixtures/topo/arm_2big_4little.xml", bin), 0);
    expect_in(out, "6 cores");
    assert_int_equal(sh(out, sizeof out, "%s platform --json --xml tests/fixtures/topo/x86_hybrid_pe.xml", bin), 0);
    expect_in(out, "\"kinds\"");
    assert_int_not_equal(sh(out, sizeof out, "%s platform --xml /nonexistent.xml", bin), 0);
    expect_in(out, "ctxbench: ");
    expect_in(out, "/nonexistent.xml");
}

static void test_03_run_resume_report(void **state)
{
    (void)state;
    static char out[65536];
    assert_int_equal(sh(out, sizeof out, "%s run %s --db %s", bin, TINY, db_path), 0);
    expect_in(out, "4 of 4 points measured now, 0 measured before");
    /* Re-running measures nothing. */
    assert_int_equal(sh(out, sizeof out, "%s run %s --db %s", bin, TINY, db_path), 0);
    expect_in(out, "all 4 points already measured");
    assert_int_equal(sh(out, sizeof out, "%s db runs --db %s", bin, db_path), 0);
    expect_in(out, "complete");
    assert_int_equal(sh(out, sizeof out, "%s db runs --json --db %s | grep -c '\"uuid\"'", bin, db_path), 0);
    assert_int_equal(atoi(out), 1);
    assert_int_equal(sh(out, sizeof out, "%s report --db %s", bin, db_path), 0);
    expect_in(out, "## tiny");
    expect_in(out, "| gemv | ");
    expect_in(out, "| gemm | ");
    expect_in(out, "size=32");
    /* --force measures again in a new run. */
    assert_int_equal(sh(out, sizeof out, "%s run %s --force --db %s", bin, TINY, db_path), 0);
    expect_in(out, "4 of 4 points measured now");
    assert_int_equal(sh(out, sizeof out, "%s db check --db %s", bin, db_path), 0);
    expect_in(out, "ok");
}

static void test_04_db_show(void **state)
{
    (void)state;
    static char out[65536];
    char uuid[64];
    assert_int_equal(sh(out, sizeof out, "sqlite3 %s 'select uuid from run limit 1'", db_path), 0);
    sscanf(out, "%63s", uuid);
    assert_int_equal(sh(out, sizeof out, "%s db show %.8s --db %s", bin, uuid, db_path), 0);
    expect_in(out, uuid);
    expect_in(out, "gemv");
    assert_int_equal(sh(out, sizeof out, "%s db show %s --json --db %s", bin, uuid, db_path), 0);
    expect_in(out, "\"samples\"");
    expect_in(out, "\"counters\"");
    assert_int_not_equal(sh(out, sizeof out, "%s db show ffffffff --db %s", bin, db_path), 0);
    expect_in(out, "ffffffff");
}

static void test_05_raw_samples_and_unsupported_counters(void **state)
{
    (void)state;
    static char out[4096];
    /* Every measurement keeps one sample row per repetition. */
    assert_int_equal(sh(out, sizeof out, "sqlite3 %s 'select count(*) from measurement m where "
                                        "reps != (select count(*) from sample s where "
                                        "s.measurement_id = m.id)'", db_path), 0);
    assert_int_equal(atoi(out), 0);
    /* A counter is either supported with a value or unsupported with a reason. */
    assert_int_equal(sh(out, sizeof out, "sqlite3 %s \"select count(*) from counter where "
                                        "(supported = 0 and (per_rep is not null or reason = '')) "
                                        "or (supported = 1 and per_rep is null)\"", db_path), 0);
    assert_int_equal(atoi(out), 0);
    assert_int_equal(sh(out, sizeof out, "sqlite3 %s \"select count(*) from counter where name = "
                                        "'task-clock' and supported = 1\"", db_path), 0);
    assert_true(atoi(out) > 0);
}

static void test_06_bad_file_writes_nothing(void **state)
{
    (void)state;
    static char out[8192];
    char bad[160], before[64];
    snprintf(bad, sizeof bad, "%s/bad.ini", tmpdir);
    FILE *f = fopen(bad, "w");
    fputs("[experiment]\nname = bad\nrunner = gemm\n[sweep]\nsize = 64..16 x2\n", f);
    fclose(f);
    sh(before, sizeof before, "sqlite3 %s 'select count(*) from run'", db_path);
    assert_int_not_equal(sh(out, sizeof out, "%s run %s --db %s", bin, bad, db_path), 0);
    char where[200];
    snprintf(where, sizeof where, "ctxbench: %s:5: ", bad);
    expect_in(out, where);
    sh(out, sizeof out, "sqlite3 %s 'select count(*) from run'", db_path);
    assert_string_equal(out, before);
}

/* Starts a slow run in the background and returns its pid. */
static pid_t start_slow_run(const char *name)
{
    char ini[160];
    snprintf(ini, sizeof ini, "%s/%s.ini", tmpdir, name);
    FILE *f = fopen(ini, "w");
    fprintf(f, "[experiment]\nname = %s\nrunner = gemm\nmin_time = 30\nmax_time = 60\nmax_reps = 10000000\n"
               "[sweep]\nkernel = gemv\nsize = 64\nthreads = 1\n", name);
    fclose(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(bin, bin, "run", ini, "--db", db_path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void wait_for_running(const char *name)
{
    char out[256];
    for (int i = 0; i < 200; i++) {
        sh(out, sizeof out, "sqlite3 %s \"select count(*) from run where experiment = '%s' and "
                            "status = 'running'\"", db_path, name);
        if (atoi(out) == 1)
            return;
        usleep(50000);
    }
    fail_msg("the run of %s never started", name);
}

static void test_07_sigint_marks_interrupted(void **state)
{
    (void)state;
    char out[256];
    pid_t pid = start_slow_run("slow_int");
    wait_for_running("slow_int");
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    sh(out, sizeof out, "sqlite3 %s \"select status from run where experiment = 'slow_int'\"", db_path);
    assert_string_equal(out, "interrupted\n");
}

static void test_08_killed_run_marked_on_next_open(void **state)
{
    (void)state;
    static char out[8192];
    pid_t pid = start_slow_run("slow_kill");
    wait_for_running("slow_kill");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    sh(out, sizeof out, "sqlite3 %s \"select status from run where experiment = 'slow_kill'\"", db_path);
    assert_string_equal(out, "running\n");
    assert_int_equal(sh(out, sizeof out, "%s db runs --db %s", bin, db_path), 0);
    sh(out, sizeof out, "sqlite3 %s \"select status from run where experiment = 'slow_kill'\"", db_path);
    assert_string_equal(out, "interrupted\n");
}

static void test_09_dry_run_and_bad_options(void **state)
{
    (void)state;
    static char out[8192];
    assert_int_equal(sh(out, sizeof out, "%s run %s --dry-run", bin, TINY), 0);
    expect_in(out, "4 points");
    assert_int_not_equal(sh(out, sizeof out, "%s run %s --scale huge --db %s", bin, TINY, db_path), 0);
    expect_in(out, "scale 'huge'");
    assert_int_not_equal(sh(out, sizeof out, "%s run --bogus %s", bin, TINY), 0);
    expect_in(out, "--bogus");
    assert_int_not_equal(sh(out, sizeof out, "%s report --db %s --experiment nothing", bin, db_path), 0);
    expect_in(out, "no results for experiment 'nothing'");
}

static void test_10_two_processes_write_one_database(void **state)
{
    (void)state;
    static char out[8192];
    char db2[160];
    snprintf(db2, sizeof db2, "%s/concurrent.db", tmpdir);
    /* Two runs of the tiny experiment at once into a database neither created
     * (both forced: otherwise the later one may find every point measured). */
    assert_int_equal(sh(out, sizeof out, "%s run %s --force --db %s & %s run %s --force --db %s & "
                                        "wait %%1 && wait %%2",
                        bin, TINY, db2, bin, TINY, db2), 0);
    assert_int_equal(sh(out, sizeof out, "sqlite3 %s \"select count(*) from run where status = "
                                        "'complete'\"", db2), 0);
    assert_int_equal(atoi(out), 2);
    assert_int_equal(sh(out, sizeof out, "sqlite3 %s 'select count(*) from measurement'", db2), 0);
    assert_int_equal(atoi(out), 8);
    assert_int_equal(sh(out, sizeof out, "%s db check --db %s", bin, db2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_help_and_unknown),
        cmocka_unit_test(test_02_platform_xml_fixtures),
        cmocka_unit_test(test_03_run_resume_report),
        cmocka_unit_test(test_04_db_show),
        cmocka_unit_test(test_05_raw_samples_and_unsupported_counters),
        cmocka_unit_test(test_06_bad_file_writes_nothing),
        cmocka_unit_test(test_07_sigint_marks_interrupted),
        cmocka_unit_test(test_08_killed_run_marked_on_next_open),
        cmocka_unit_test(test_09_dry_run_and_bad_options),
        cmocka_unit_test(test_10_two_processes_write_one_database),
    };
    return cmocka_run_group_tests_name("e2e", tests, setup, teardown);
}
