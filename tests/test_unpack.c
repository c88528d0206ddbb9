/* tests/test_unpack.c — safe archive unpacking (fetch/unpack.c).
 *
 * Every archive is made by the test with libarchive's write API in one mkdtemp
 * folder under /tmp, removed at the end: round trips in the four formats, then
 * a hostile corpus, one archive per safety rule, each of which must be refused
 * with an error naming the entry and leave nothing where it would have gone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "fetch/unpack.h"
#include "util/hash.h"

/* ---- fixtures ------------------------------------------------------------------ */

static char g_dir[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ctxbench-unpack-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

enum fmt { F_TAR, F_TGZ, F_TZST, F_ZIP };

/* One entry to write: a regular file of size bytes (data, or `fill` repeated),
 * a folder, a link or a special file; claim >= 0 sets the header size. */
typedef struct spec {
    const char *name;
    mode_t type;       /* AE_IFREG (default when 0), AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO */
    const char *data;  /* content, or NULL for `size` bytes of fill */
    size_t size;
    char fill;
    const char *link;  /* symlink target (AE_IFLNK) */
    const char *hardlink;
} spec;

static void write_archive(const char *path, enum fmt f, const spec *specs, size_t n)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    if (f == F_ZIP) {
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    } else {
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (f == F_TGZ)
            assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        if (f == F_TZST)
            assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    }
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const spec *s = &specs[i];
        struct archive_entry *e = archive_entry_new();
        mode_t type = s->type ? s->type : AE_IFREG;
        archive_entry_set_pathname(e, s->name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 04755); /* setuid must not survive */
        if (s->link)
            archive_entry_set_symlink(e, s->link);
        if (s->hardlink)
            archive_entry_set_hardlink(e, s->hardlink);
        if (type == AE_IFCHR)
            archive_entry_set_rdev(e, makedev(1, 3));
        size_t size = type == AE_IFREG && !s->hardlink ? (s->data ? strlen(s->data) : s->size) : 0;
        archive_entry_set_size(e, (la_int64_t)size);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (size && s->data) {
            assert_int_equal(archive_write_data(a, s->data, size), (la_ssize_t)size);
        } else if (size) {
            char buf[65536];
            memset(buf, s->fill, sizeof buf);
            for (size_t done = 0; done < size;) {
                size_t k = size - done < sizeof buf ? size - done : sizeof buf;
                assert_int_equal(archive_write_data(a, buf, k), (la_ssize_t)k);
                done += k;
            }
        }
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* 1 when the test folder holds an entry whose name starts with prefix. */
static int leftover(const char *prefix)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int found = 0;
    assert_non_null(d);
    while ((de = readdir(d)))
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            found = 1;
    closedir(d);
    return found;
}

/* ---- round trips ----------------------------------------------------------------- */

static int count_visit(void *ctx, const char *path, const char *data, size_t len,
                       const char sha256[CB_SHA256_HEX_LEN], cb_err *err)
{
    (void)path;
    (void)sha256;
    (void)err;
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

static void round_trip(enum fmt f, const char *name)
{
    char arc[256], dest[300], file[400];
    static char big[100001];
    for (size_t i = 0; i + 1 < sizeof big; i++)
        big[i] = (char)('a' + (i * 7919u) % 26);
    const spec specs[] = {
        {.name = "dir/", .type = AE_IFDIR},
        {.name = "dir/a.txt", .data = "hello\n"},
        {.name = "./b.txt", .data = big},
        {.name = "empty", .data = ""},
    };
    write_archive(tpath(arc, sizeof arc, name), f, specs, 4);
    snprintf(dest, sizeof dest, "%s.out", arc);
    unpack_list list = {0};
    cb_err err = {{0}};
    if (unpack_file(arc, dest, NULL, &list, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    assert_int_equal(list.n, 3);
    assert_string_equal(list.items[0].path, "dir/a.txt");
    assert_string_equal(list.items[1].path, "b.txt");
    assert_string_equal(list.items[2].path, "empty");
    assert_int_equal(list.items[1].size, 100000);
    char hex[CB_SHA256_HEX_LEN];
    cb_sha256_hex(big, 100000, hex);
    assert_string_equal(list.items[1].sha256, hex);
    unpack_list_free(&list);
    size_t len;
    snprintf(file, sizeof file, "%s/dir/a.txt", dest);
    char *got = slurp(file, &len);
    assert_string_equal(got, "hello\n");
    free(got);
    snprintf(file, sizeof file, "%s/b.txt", dest);
    got = slurp(file, &len);
    assert_int_equal(len, 100000);
    assert_memory_equal(got, big, 100000);
    free(got);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644); /* no setuid, no archive modes */
    /* one member read without extracting */
    char *data = NULL;
    assert_int_equal(unpack_read_member(arc, "dir/a.txt", 100, NULL, &data, &len, &err), 0);
    assert_int_equal(len, 6);
    assert_string_equal(data, "hello\n");
    free(data);
    assert_int_equal(unpack_read_member(arc, "b.txt", 1000, NULL, &data, &len, &err), -1);
    assert_null(data);
    assert_int_equal(unpack_read_member(arc, "nope", 1000, NULL, &data, &len, &err), -1);
    assert_non_null(strstr(err.msg, "nope"));
    /* the walkers see the same bytes, from a file and from memory */
    size_t total = 0;
    assert_int_equal(unpack_walk_file(arc, NULL, count_visit, &total, &err), 0);
    assert_int_equal(total, 100006);
    char *raw = slurp(arc, &len);
    total = 0;
    assert_int_equal(unpack_walk_memory(raw, len, name, NULL, count_visit, &total, &err), 0);
    assert_int_equal(total, 100006);
    free(raw);
    /* an existing destination is refused */
    assert_int_equal(unpack_file(arc, dest, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "already exists"));
}

static void test_01_tar(void **state) { (void)state; round_trip(F_TAR, "rt.tar"); }
static void test_02_tar_gz(void **state) { (void)state; round_trip(F_TGZ, "rt.tar.gz"); }
static void test_03_tar_zst(void **state) { (void)state; round_trip(F_TZST, "rt.tar.zst"); }
static void test_04_zip(void **state) { (void)state; round_trip(F_ZIP, "rt.zip"); }

static void test_05_zstd_supported(void **state)
{
    (void)state;
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    archive_write_free(a);
}

static void test_06_path_normalise(void **state)
{
    (void)state;
    char out[64];
    cb_err err = {{0}};
    assert_int_equal(unpack_path_normalise("./a//b/./c/", out, sizeof out, &err), 0);
    assert_string_equal(out, "a/b/c");
    assert_int_equal(unpack_path_normalise("/etc/passwd", out, sizeof out, &err), -1);
    assert_int_equal(unpack_path_normalise("a/../../b", out, sizeof out, &err), -1);
    assert_int_equal(unpack_path_normalise("..", out, sizeof out, &err), -1);
    assert_int_equal(unpack_path_normalise("a\\..\\b", out, sizeof out, &err), -1);
    assert_int_equal(unpack_path_normalise("./", out, sizeof out, &err), -1);
    assert_int_equal(unpack_path_normalise("", out, sizeof out, &err), -1);
    assert_int_equal(unpack_path_normalise("a..b/..c", out, sizeof out, &err), 0); /* not ".." */
    char longp[100];
    memset(longp, 'x', sizeof longp - 1);
    longp[99] = '\0';
    assert_int_equal(unpack_path_normalise(longp, out, sizeof out, &err), -1);
}

/* ---- the hostile corpus ------------------------------------------------------------ */

/* Unpacks the archive made from specs into a fresh destination and expects a
 * refusal whose message names `entry` and says `why`, with nothing left. */
static void refused_how(const char *name, enum fmt f, const spec *specs, size_t n,
                        const unpack_limits *lim, const char *entry, const char *why, int walk_too)
{
    char arc[256], dest[256], prefix[128];
    write_archive(tpath(arc, sizeof arc, name), f, specs, n);
    snprintf(prefix, sizeof prefix, "%s.out", name);
    tpath(dest, sizeof dest, prefix);
    cb_err err = {{0}};
    unpack_list list = {0};
    if (unpack_file(arc, dest, lim, &list, &err) == 0)
        fail_msg("%s: unpacked, should have been refused", name);
    if (!strstr(err.msg, entry) || !strstr(err.msg, why))
        fail_msg("%s: message \"%s\" should name \"%s\" and say \"%s\"", name, err.msg, entry, why);
    assert_int_equal(list.n, 0);
    struct stat st;
    assert_int_equal(lstat(dest, &st), -1); /* dest untouched */
    assert_false(leftover(prefix));          /* no staging folder left */
    /* nothing escaped the destination either */
    assert_int_equal(lstat(tpath(dest, sizeof dest, "evil"), &st), -1);
    /* the walkers refuse it too (when the rule is about the archive, not the disk) */
    if (walk_too)
        assert_int_equal(unpack_walk_file(arc, lim, NULL, NULL, &err), -1);
}

static void refused(const char *name, enum fmt f, const spec *specs, size_t n,
                    const unpack_limits *lim, const char *entry, const char *why)
{
    refused_how(name, f, specs, n, lim, entry, why, 1);
}

static const spec ok_first = {.name = "good.txt", .data = "fine\n"};

static void test_07_absolute_path(void **state)
{
    (void)state;
    char evil[300];
    const spec s[] = {ok_first, {.name = tpath(evil, sizeof evil, "evil"), .data = "x"}};
    refused("abs.tar", F_TAR, s, 2, NULL, evil, "absolute path");
}

static void test_08_dotdot_escape(void **state)
{
    (void)state;
    const spec s[] = {ok_first, {.name = "sub/../../evil", .data = "x"}};
    refused("dotdot.tar.gz", F_TGZ, s, 2, NULL, "sub/../../evil", "\"..\"");
}

static void test_09_symlink(void **state)
{
    (void)state;
    const spec s[] = {ok_first, {.name = "link", .type = AE_IFLNK, .link = "/etc"}};
    refused("symlink.tar", F_TAR, s, 2, NULL, "link", "symbolic link");
}

static void test_10_hardlink(void **state)
{
    (void)state;
    const spec s[] = {ok_first, {.name = "hard", .hardlink = "good.txt"}};
    refused("hardlink.tar", F_TAR, s, 2, NULL, "hard", "hard link");
}

static void test_11_char_device(void **state)
{
    (void)state;
    const spec s[] = {ok_first, {.name = "null", .type = AE_IFCHR}};
    refused("chardev.tar", F_TAR, s, 2, NULL, "null", "character device");
}

static void test_12_fifo(void **state)
{
    (void)state;
    const spec s[] = {ok_first, {.name = "pipe", .type = AE_IFIFO}};
    refused("fifo.tar.zst", F_TZST, s, 2, NULL, "pipe", "fifo");
}

/* Rewrites every 32-bit uncompressed-size field of a one-entry zip (local
 * header and central directory) to claim `claim` bytes. */
static void zip_lie(const char *path, uint32_t claim)
{
    size_t len;
    unsigned char *b = (unsigned char *)slurp(path, &len);
    int patched = 0;
    for (size_t i = 0; i + 46 < len; i++) {
        size_t off = 0;
        if (memcmp(b + i, "PK\3\4", 4) == 0)
            off = i + 22;
        else if (memcmp(b + i, "PK\1\2", 4) == 0)
            off = i + 24;
        if (!off)
            continue;
        for (int k = 0; k < 4; k++)
            b[off + (size_t)k] = (unsigned char)(claim >> (8 * k));
        patched++;
    }
    assert_int_equal(patched, 2);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
}

static void test_13_bomb_with_lying_header(void **state)
{
    (void)state;
    /* 8 MiB of zeros deflate to a few KiB; the headers claim 1000 bytes, the
     * limit is 1 MiB: the bytes actually decompressed must stop it */
    char arc[256], dest[256];
    const spec s[] = {{.name = "bomb.bin", .size = 8u << 20, .fill = 0}};
    write_archive(tpath(arc, sizeof arc, "bomb.zip"), F_ZIP, s, 1);
    struct stat st;
    assert_int_equal(stat(arc, &st), 0);
    assert_true(st.st_size < 200000); /* it is a compressed bomb */
    zip_lie(arc, 1000);
    unpack_limits lim = {.max_entry_bytes = 1 << 20, .max_total_bytes = 1 << 30, .max_entries = 10};
    cb_err err = {{0}};
    tpath(dest, sizeof dest, "bomb.out");
    assert_int_equal(unpack_file(arc, dest, &lim, NULL, &err), -1);
    if (!strstr(err.msg, "bomb.bin") || !strstr(err.msg, "decompressed"))
        fail_msg("unexpected message: %s", err.msg);
    assert_int_equal(lstat(dest, &st), -1);
    assert_false(leftover("bomb.out"));
    /* and the in-memory walker stops it the same way */
    size_t len;
    char *raw = slurp(arc, &len);
    assert_int_equal(unpack_walk_memory(raw, len, "bomb.zip", &lim, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "decompressed"));
    free(raw);
}

static void test_14_entry_claim_over_limit(void **state)
{
    (void)state;
    const spec s[] = {ok_first, {.name = "large.bin", .size = 3u << 20, .fill = 'z'}};
    unpack_limits lim = {.max_entry_bytes = 1 << 20, .max_total_bytes = 1 << 30, .max_entries = 10};
    refused("large.tar.zst", F_TZST, s, 2, &lim, "large.bin", "over the limit");
}

static void test_15_total_over_limit(void **state)
{
    (void)state;
    const spec s[] = {{.name = "p1", .size = 600000, .fill = 1}, {.name = "p2", .size = 600000, .fill = 2},
                      {.name = "p3", .size = 600000, .fill = 3}};
    unpack_limits lim = {.max_entry_bytes = 1 << 20, .max_total_bytes = 1 << 20, .max_entries = 10};
    refused("total.tar.gz", F_TGZ, s, 3, &lim, "p2", "more than 1048576 bytes");
}

static void test_16_too_many_entries(void **state)
{
    (void)state;
    spec s[6];
    char names[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        s[i] = (spec){.name = names[i], .data = "x"};
    }
    unpack_limits lim = {.max_entry_bytes = 1 << 20, .max_total_bytes = 1 << 20, .max_entries = 5};
    refused("many.tar", F_TAR, s, 6, &lim, "f5", "more than 5 entries");
}

static void test_17_duplicate_entry(void **state)
{
    (void)state;
    const spec s[] = {ok_first, {.name = "./good.txt", .data = "replaced\n"}};
    refused("dup.zip", F_ZIP, s, 2, NULL, "./good.txt", "duplicate");
}

static void test_18_file_in_the_way(void **state)
{
    (void)state;
    /* a file and then a folder path through it: cannot be made, refused whole */
    const spec s[] = {ok_first, {.name = "good.txt/inner", .data = "x"}};
    refused_how("inway.tar", F_TAR, s, 2, NULL, "good.txt/inner", "", 0);
}

static void test_19_not_an_archive(void **state)
{
    (void)state;
    char arc[256], dest[256];
    FILE *f = fopen(tpath(arc, sizeof arc, "garbage.tar"), "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc((i * 131) & 0xff, f);
    fclose(f);
    cb_err err = {{0}};
    assert_int_equal(unpack_file(arc, tpath(dest, sizeof dest, "garbage.out"), NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "garbage.tar"));
    assert_false(leftover("garbage.out"));
    assert_int_equal(unpack_file(tpath(arc, sizeof arc, "missing.tar"), dest, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "missing.tar"));
    assert_false(leftover("garbage.out"));
}

static void test_20_sha256_file(void **state)
{
    (void)state;
    char path[256], hex[CB_SHA256_HEX_LEN], want[CB_SHA256_HEX_LEN];
    FILE *f = fopen(tpath(path, sizeof path, "h.txt"), "wb");
    assert_non_null(f);
    fputs("abc", f);
    fclose(f);
    cb_err err = {{0}};
    assert_int_equal(unpack_sha256_file(path, hex, &err), 0);
    cb_sha256_hex("abc", 3, want);
    assert_string_equal(hex, want);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_01_tar),
        cmocka_unit_test(test_02_tar_gz),
        cmocka_unit_test(test_03_tar_zst),
        cmocka_unit_test(test_04_zip),
        cmocka_unit_test(test_05_zstd_supported),
        cmocka_unit_test(test_06_path_normalise),
        cmocka_unit_test(test_07_absolute_path),
        cmocka_unit_test(test_08_dotdot_escape),
        cmocka_unit_test(test_09_symlink),
        cmocka_unit_test(test_10_hardlink),
        cmocka_unit_test(test_11_char_device),
        cmocka_unit_test(test_12_fifo),
        cmocka_unit_test(test_13_bomb_with_lying_header),
        cmocka_unit_test(test_14_entry_claim_over_limit),
        cmocka_unit_test(test_15_total_over_limit),
        cmocka_unit_test(test_16_too_many_entries),
        cmocka_unit_test(test_17_duplicate_entry),
        cmocka_unit_test(test_18_file_in_the_way),
        cmocka_unit_test(test_19_not_an_archive),
        cmocka_unit_test(test_20_sha256_file),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
