/* libpmi.so: the PMI-1 API for programs flux launches, spoken over the PMI-1 simple wire protocol on the
 * descriptor named by PMI_FD (flux RFC 13).  Without PMI_FD the process is a singleton: rank 0 of 1, with a
 * key-value space of its own.
 *
 * Build: cc -std=c99 -Wall -Wextra -O2 -fPIC -shared -o libpmi.so libpmi.c
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define PMI_SUCCESS 0
#define PMI_FAIL -1
#define PMI_ERR_INIT 1
#define PMI_ERR_NOMEM 2
#define PMI_ERR_INVALID_ARG 3
#define PMI_ERR_INVALID_KEY 4
#define PMI_ERR_INVALID_KEY_LENGTH 5
#define PMI_ERR_INVALID_VAL 6
#define PMI_ERR_INVALID_VAL_LENGTH 7
#define PMI_ERR_INVALID_LENGTH 8
#define PMI_ERR_INVALID_NUM_ARGS 9
#define PMI_ERR_INVALID_ARGS 10
#define PMI_ERR_INVALID_NUM_PARSED 11
#define PMI_ERR_INVALID_KEYVALP 12
#define PMI_ERR_INVALID_SIZE 13

#define PMI_TRUE 1
#define PMI_FALSE 0

#define EXPORT __attribute__((visibility("default")))

typedef struct PMI_keyval_t {
    const char *key;
    const char *val;
} PMI_keyval_t;

/* A flux broker that looks for its launcher's libpmi.so (Slurm's, say) refuses any library exporting this symbol:
 * this one only talks to a flux PMI server, so it can never be the launcher's. */
EXPORT const char flux_pmi_library[] = "flux-ts";

/* What a singleton announces; the same limits as flux's own PMI server, so programs see no difference. */
#define SINGLETON_KVSNAME_MAX 64
#define SINGLETON_KEYLEN_MAX 64
#define SINGLETON_VALLEN_MAX 1024

/* No legal line comes near this (values are at most vallen_max); it bounds what a broken peer can make us
 * buffer. */
#define MAX_LINE (1024 * 1024)
/* A reply holds a handful of keys; more than this is not a PMI reply. */
#define MAX_FIELDS 32
/* Abort messages are cut here so the line stays far below any server's line limit. */
#define MAX_ABORT_MSG 1024

enum mode { UNINITIALIZED, SIMPLE, SINGLETON };

struct kv {
    struct kv *next;
    char *key;
    char *value;
};

struct field {
    const char *key;
    char *value;
};

struct reply {
    struct field fields[MAX_FIELDS];
    int count;
};

static struct {
    enum mode mode;
    int fd;
    int rank;
    int size;
    int debug;
    /* the connection failed or the server broke the protocol: every later request fails */
    int broken;
    int kvsname_max;
    int keylen_max;
    int vallen_max;
    char *kvsname;
    struct kv *kvs; /* the singleton's key-value space */
    /* bytes read from fd; the first `consumed` of them are the line last returned by read_line */
    char *in;
    size_t in_len;
    size_t in_cap;
    size_t consumed;
    /* ranks sharing this node, computed once from PMI_process_mapping */
    int *clique;
    int clique_size;
} pmi = { .mode = UNINITIALIZED, .fd = -1 };

static void trace(const char *dir, const char *line, size_t len)
{
    if (pmi.debug)
        fprintf(stderr, "libpmi[%d]: %s: %.*s\n", pmi.rank, dir, (int)len, line);
}

static void complain(const char *fmt, ...)
{
    va_list ap;
    fputs("libpmi: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Decimal integer in [min, max], nothing else around it (strtol alone would take " +5"). */
static int parse_int(const char *s, long min, long max, int *out)
{
    char *end;
    long v;

    if (s == NULL || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* A wire word: non-empty, no space, control character or '=' (bytes of UTF-8 sequences are fine). */
static int is_word(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (*p == '\0')
        return 0;
    for (; *p != '\0'; p++) {
        if (*p <= ' ' || *p == '=' || *p == 0x7f)
            return 0;
    }
    return 1;
}

/* After a failed read or write: 1 if it is worth trying again, once the descriptor is ready when the launcher
 * handed it over non-blocking. */
static int retry(short events)
{
    struct pollfd pfd = { .fd = pmi.fd, .events = events };

    if (errno == EINTR)
        return 1;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return 0;
    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR)
            return 0;
    }
    return 1;
}

static int write_all(const char *buf, size_t len)
{
    while (len > 0) {
        /* MSG_NOSIGNAL: a server that went away must not kill the program with SIGPIPE */
        ssize_t n = send(pmi.fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(pmi.fd, buf, len);
        if (n < 0) {
            if (retry(POLLOUT))
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The next line from the server, newline removed, valid until the next call; NULL on EOF, error or a line that
 * no server should send (too long, or holding a NUL). */
static char *read_line(void)
{
    if (pmi.consumed > 0) {
        memmove(pmi.in, pmi.in + pmi.consumed, pmi.in_len - pmi.consumed);
        pmi.in_len -= pmi.consumed;
        pmi.consumed = 0;
    }
    for (;;) {
        char *nl = pmi.in != NULL ? memchr(pmi.in, '\n', pmi.in_len) : NULL;
        ssize_t n;

        if (nl != NULL) {
            size_t len = (size_t)(nl - pmi.in);
            if (memchr(pmi.in, '\0', len) != NULL)
                return NULL;
            *nl = '\0';
            pmi.consumed = len + 1;
            trace("S", pmi.in, len);
            return pmi.in;
        }
        if (pmi.in_len == pmi.in_cap) {
            size_t cap = pmi.in_cap == 0 ? 4096 : pmi.in_cap * 2;
            char *p;
            if (cap > MAX_LINE)
                return NULL;
            if ((p = realloc(pmi.in, cap)) == NULL)
                return NULL;
            pmi.in = p;
            pmi.in_cap = cap;
        }
        n = read(pmi.fd, pmi.in + pmi.in_len, pmi.in_cap - pmi.in_len);
        if (n < 0 && retry(POLLIN))
            continue;
        if (n <= 0)
            return NULL;
        pmi.in_len += (size_t)n;
    }
}

/* Split a line into key=value fields, in place.  Any order, runs of spaces and unknown keys are accepted; a
 * word without '=' continues the previous value (servers send `msg=command not implemented` unquoted); `value`
 * and `error_msg` take the rest of the line, spaces and '=' included. */
static int parse_reply(char *line, struct reply *r)
{
    char *p = line;
    char *value_end = NULL;

    r->count = 0;
    while (*p != '\0') {
        char *token, *end, *eq;

        if (*p == ' ') {
            p++;
            continue;
        }
        token = p;
        end = strchr(p, ' ');
        if (end == NULL)
            end = p + strlen(p);
        eq = memchr(token, '=', (size_t)(end - token));
        if (eq == NULL) {
            if (r->count == 0)
                return -1;
            value_end = end;
            p = end;
            continue;
        }
        if (eq == token || r->count == MAX_FIELDS)
            return -1;
        if (value_end != NULL)
            *value_end = '\0';
        *eq = '\0';
        r->fields[r->count].key = token;
        r->fields[r->count].value = eq + 1;
        r->count++;
        if (strcmp(token, "value") == 0 || strcmp(token, "error_msg") == 0)
            return 0;
        value_end = end;
        p = end;
    }
    if (value_end != NULL)
        *value_end = '\0';
    return 0;
}

static char *field(const struct reply *r, const char *key)
{
    for (int i = 0; i < r->count; i++) {
        if (strcmp(r->fields[i].key, key) == 0)
            return r->fields[i].value;
    }
    return NULL;
}

/* A failed connection stays failed: there is no way to resynchronise a lock-step protocol. */
static int broken(void)
{
    pmi.broken = 1;
    return PMI_FAIL;
}

static int vsend_line(const char *fmt, va_list ap)
{
    va_list ap2;
    int len;
    char *line;
    int rc;

    if (pmi.broken)
        return PMI_FAIL;
    va_copy(ap2, ap);
    len = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (len < 0)
        return PMI_FAIL;
    if ((line = malloc((size_t)len + 1)) == NULL)
        return PMI_ERR_NOMEM;
    vsnprintf(line, (size_t)len + 1, fmt, ap);
    trace("C", line, (size_t)len - 1);
    rc = write_all(line, (size_t)len) < 0 ? broken() : PMI_SUCCESS;
    free(line);
    return rc;
}

static int send_line(const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vsend_line(fmt, ap);
    va_end(ap);
    return rc;
}

/* One lock-step exchange: send a line (fmt ends with "\n"), read the answer, check it is `expect` and turn its
 * rc into the result (a missing rc means success: hydra leaves it out).  The reply points into the read buffer
 * and is valid until the next request. */
static int request(const char *expect, struct reply *r, const char *fmt, ...)
{
    va_list ap;
    char *line;
    const char *cmd, *rc_text;
    int rc;

    va_start(ap, fmt);
    rc = vsend_line(fmt, ap);
    va_end(ap);
    if (rc != PMI_SUCCESS)
        return rc;
    if ((line = read_line()) == NULL || parse_reply(line, r) < 0)
        return broken();
    if ((cmd = field(r, "cmd")) == NULL || strcmp(cmd, expect) != 0)
        return broken();
    if ((rc_text = field(r, "rc")) == NULL)
        return PMI_SUCCESS;
    if (parse_int(rc_text, INT_MIN, INT_MAX, &rc) < 0)
        return broken();
    if (rc == PMI_SUCCESS)
        return PMI_SUCCESS;
    /* hand on a server's code only if the PMI-1 API knows it */
    return rc >= PMI_FAIL && rc <= PMI_ERR_INVALID_SIZE ? rc : PMI_FAIL;
}

static int reply_int(const struct reply *r, const char *key, long min, int *out)
{
    return parse_int(field(r, key), min, INT_MAX, out) < 0 ? broken() : PMI_SUCCESS;
}

static struct kv *singleton_find(const char *key)
{
    for (struct kv *kv = pmi.kvs; kv != NULL; kv = kv->next) {
        if (strcmp(kv->key, key) == 0)
            return kv;
    }
    return NULL;
}

static void reset(void)
{
    struct kv *kv = pmi.kvs;

    while (kv != NULL) {
        struct kv *next = kv->next;
        free(kv->key);
        free(kv->value);
        free(kv);
        kv = next;
    }
    if (pmi.fd >= 0)
        close(pmi.fd);
    free(pmi.kvsname);
    free(pmi.in);
    free(pmi.clique);
    memset(&pmi, 0, sizeof(pmi));
    pmi.mode = UNINITIALIZED;
    pmi.fd = -1;
}

static int init_singleton(void)
{
    pmi.rank = 0;
    pmi.size = 1;
    pmi.kvsname_max = SINGLETON_KVSNAME_MAX;
    pmi.keylen_max = SINGLETON_KEYLEN_MAX;
    pmi.vallen_max = SINGLETON_VALLEN_MAX;
    if ((pmi.kvsname = strdup("singleton")) == NULL)
        return PMI_ERR_NOMEM;
    pmi.mode = SINGLETON;
    return PMI_SUCCESS;
}

static int env_int(const char *name, long min, int *out)
{
    const char *text = getenv(name);

    if (text == NULL) {
        complain("PMI_FD is set but %s is not", name);
        return PMI_FAIL;
    }
    if (parse_int(text, min, INT_MAX, out) < 0) {
        complain("%s=\"%s\" is not an integer >= %ld", name, text, min);
        return PMI_FAIL;
    }
    return PMI_SUCCESS;
}

static int init_simple(void)
{
    struct reply r;
    const char *version, *subversion, *kvsname;
    int rc;

    if ((rc = env_int("PMI_FD", 0, &pmi.fd)) != PMI_SUCCESS
        || (rc = env_int("PMI_RANK", 0, &pmi.rank)) != PMI_SUCCESS
        || (rc = env_int("PMI_SIZE", 1, &pmi.size)) != PMI_SUCCESS) {
        pmi.fd = -1; /* not ours to close: it may be unrelated to PMI */
        return rc;
    }
    if (pmi.rank >= pmi.size) {
        complain("PMI_RANK=%d is not below PMI_SIZE=%d", pmi.rank, pmi.size);
        pmi.fd = -1;
        return PMI_FAIL;
    }
    rc = request("response_to_init", &r, "cmd=init pmi_version=1 pmi_subversion=1\n");
    if (rc != PMI_SUCCESS)
        goto fail;
    version = field(&r, "pmi_version");
    subversion = field(&r, "pmi_subversion");
    if ((version != NULL && strcmp(version, "1") != 0) || (subversion != NULL && strcmp(subversion, "1") != 0)) {
        rc = PMI_FAIL;
        goto fail;
    }
    rc = request("maxes", &r, "cmd=get_maxes\n");
    if (rc != PMI_SUCCESS)
        goto fail;
    if ((rc = reply_int(&r, "kvsname_max", 1, &pmi.kvsname_max)) != PMI_SUCCESS
        || (rc = reply_int(&r, "keylen_max", 1, &pmi.keylen_max)) != PMI_SUCCESS
        || (rc = reply_int(&r, "vallen_max", 1, &pmi.vallen_max)) != PMI_SUCCESS)
        goto fail;
    /* asked once here: PMI_KVS_Get_my_name and PMI_Get_id then need no round trip */
    rc = request("my_kvsname", &r, "cmd=get_my_kvsname\n");
    if (rc != PMI_SUCCESS)
        goto fail;
    kvsname = field(&r, "kvsname");
    if (kvsname == NULL || !is_word(kvsname)) {
        rc = PMI_FAIL;
        goto fail;
    }
    if ((pmi.kvsname = strdup(kvsname)) == NULL) {
        rc = PMI_ERR_NOMEM;
        goto fail;
    }
    pmi.mode = SIMPLE;
    return PMI_SUCCESS;
fail:
    complain("PMI handshake on PMI_FD=%d failed (%d)", pmi.fd, rc);
    return rc;
}

EXPORT int PMI_Init(int *spawned)
{
    const char *debug = getenv("FLUX_PMI_DEBUG");
    const char *spawned_text = getenv("PMI_SPAWNED");
    int is_spawned = 0;
    int rc;

    if (spawned == NULL)
        return PMI_ERR_INVALID_ARG;
    if (pmi.mode != UNINITIALIZED)
        return PMI_ERR_INIT;
    pmi.debug = debug != NULL && *debug != '\0' && strcmp(debug, "0") != 0;
    rc = getenv("PMI_FD") == NULL ? init_singleton() : init_simple();
    if (rc != PMI_SUCCESS) {
        reset();
        return rc;
    }
    /* left at 0, not spawned, when absent or not a number */
    if (spawned_text != NULL)
        (void)parse_int(spawned_text, 0, INT_MAX, &is_spawned);
    *spawned = is_spawned != 0 ? PMI_TRUE : PMI_FALSE;
    return PMI_SUCCESS;
}

EXPORT int PMI_Initialized(int *initialized)
{
    if (initialized == NULL)
        return PMI_ERR_INVALID_ARG;
    *initialized = pmi.mode != UNINITIALIZED ? PMI_TRUE : PMI_FALSE;
    return PMI_SUCCESS;
}

EXPORT int PMI_Finalize(void)
{
    struct reply r;
    int rc = PMI_SUCCESS;

    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (pmi.mode == SIMPLE)
        rc = request("finalize_ack", &r, "cmd=finalize\n");
    reset();
    return rc;
}

EXPORT int PMI_Abort(int exit_code, const char error_msg[])
{
    char msg[MAX_ABORT_MSG + 1];

    snprintf(msg, sizeof(msg), "%s", error_msg != NULL && *error_msg != '\0' ? error_msg : "aborted");
    /* the message travels as the rest of one line */
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    fprintf(stderr, "PMI_Abort: %s\n", msg);
    /* abort gets no answer; the process manager ends the job */
    if (pmi.mode == SIMPLE)
        (void)send_line("cmd=abort exitcode=%d error_msg=%s\n", exit_code, msg);
    exit(exit_code);
}

EXPORT int PMI_Get_size(int *size)
{
    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (size == NULL)
        return PMI_ERR_INVALID_ARG;
    *size = pmi.size;
    return PMI_SUCCESS;
}

EXPORT int PMI_Get_rank(int *rank)
{
    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (rank == NULL)
        return PMI_ERR_INVALID_ARG;
    *rank = pmi.rank;
    return PMI_SUCCESS;
}

EXPORT int PMI_Get_universe_size(int *size)
{
    struct reply r;
    int rc;

    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (size == NULL)
        return PMI_ERR_INVALID_ARG;
    if (pmi.mode == SINGLETON) {
        *size = 1;
        return PMI_SUCCESS;
    }
    if ((rc = request("universe_size", &r, "cmd=get_universe_size\n")) != PMI_SUCCESS)
        return rc;
    /* passed on as the server says it: hydra answers -1 when it has no universe size */
    return reply_int(&r, "size", INT_MIN, size);
}

EXPORT int PMI_Get_appnum(int *appnum)
{
    struct reply r;
    int rc;

    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (appnum == NULL)
        return PMI_ERR_INVALID_ARG;
    if (pmi.mode == SINGLETON) {
        *appnum = 0;
        return PMI_SUCCESS;
    }
    if ((rc = request("appnum", &r, "cmd=get_appnum\n")) != PMI_SUCCESS)
        return rc;
    return reply_int(&r, "appnum", INT_MIN, appnum);
}

EXPORT int PMI_KVS_Get_my_name(char kvsname[], int length)
{
    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (kvsname == NULL)
        return PMI_ERR_INVALID_ARG;
    if (length <= 0 || strlen(pmi.kvsname) >= (size_t)length)
        return PMI_ERR_INVALID_LENGTH;
    strcpy(kvsname, pmi.kvsname);
    return PMI_SUCCESS;
}

/* The job's id and its KVS domain are the KVS name: flux names a job's PMI space after the job. */
EXPORT int PMI_Get_id(char id_str[], int length)
{
    return PMI_KVS_Get_my_name(id_str, length);
}

EXPORT int PMI_Get_kvs_domain_id(char id_str[], int length)
{
    return PMI_KVS_Get_my_name(id_str, length);
}

static int get_max(int value, int *length)
{
    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (length == NULL)
        return PMI_ERR_INVALID_ARG;
    *length = value;
    return PMI_SUCCESS;
}

EXPORT int PMI_Get_id_length_max(int *length)
{
    return get_max(pmi.kvsname_max, length);
}

EXPORT int PMI_KVS_Get_name_length_max(int *length)
{
    return get_max(pmi.kvsname_max, length);
}

EXPORT int PMI_KVS_Get_key_length_max(int *length)
{
    return get_max(pmi.keylen_max, length);
}

EXPORT int PMI_KVS_Get_value_length_max(int *length)
{
    return get_max(pmi.vallen_max, length);
}

/* Checks shared by put and get.  The maxima count a C string's terminating NUL, as buffers sized by
 * PMI_KVS_Get_*_length_max do. */
static int check_kvs_args(const char *kvsname, const char *key)
{
    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (kvsname == NULL || key == NULL || !is_word(kvsname) || strlen(kvsname) >= (size_t)pmi.kvsname_max)
        return PMI_ERR_INVALID_ARG;
    if (!is_word(key))
        return PMI_ERR_INVALID_KEY;
    if (strlen(key) >= (size_t)pmi.keylen_max)
        return PMI_ERR_INVALID_KEY_LENGTH;
    return PMI_SUCCESS;
}

static int singleton_put(const char *key, const char *value)
{
    struct kv *kv = singleton_find(key);
    char *copy = strdup(value);

    if (copy == NULL)
        return PMI_ERR_NOMEM;
    if (kv == NULL) {
        if ((kv = calloc(1, sizeof(*kv))) == NULL || (kv->key = strdup(key)) == NULL) {
            free(kv);
            free(copy);
            return PMI_ERR_NOMEM;
        }
        kv->next = pmi.kvs;
        pmi.kvs = kv;
    }
    free(kv->value);
    kv->value = copy;
    return PMI_SUCCESS;
}

EXPORT int PMI_KVS_Put(const char kvsname[], const char key[], const char value[])
{
    struct reply r;
    int rc;

    if ((rc = check_kvs_args(kvsname, key)) != PMI_SUCCESS)
        return rc;
    if (value == NULL || strchr(value, '\n') != NULL)
        return PMI_ERR_INVALID_VAL;
    if (strlen(value) >= (size_t)pmi.vallen_max)
        return PMI_ERR_INVALID_VAL_LENGTH;
    if (pmi.mode == SINGLETON)
        return singleton_put(key, value);
    return request("put_result", &r, "cmd=put kvsname=%s key=%s value=%s\n", kvsname, key, value);
}

/* Puts reach the server one by one: there is nothing left to commit. */
EXPORT int PMI_KVS_Commit(const char kvsname[])
{
    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (kvsname == NULL)
        return PMI_ERR_INVALID_ARG;
    return PMI_SUCCESS;
}

/* MPICH hydra 4.1 and 4.2 append this to get answers, after the value that otherwise runs to the line's end. */
static void strip_found_suffix(char *value)
{
    static const char *const suffixes[] = { " found=TRUE", " found=FALSE" };
    size_t len = strlen(value);

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t n = strlen(suffixes[i]);
        if (len >= n && strcmp(value + len - n, suffixes[i]) == 0) {
            value[len - n] = '\0';
            return;
        }
    }
}

EXPORT int PMI_KVS_Get(const char kvsname[], const char key[], char value[], int length)
{
    struct reply r;
    char *found;
    int rc;

    if ((rc = check_kvs_args(kvsname, key)) != PMI_SUCCESS)
        return rc;
    if (value == NULL)
        return PMI_ERR_INVALID_ARG;
    if (length <= 0)
        return PMI_ERR_INVALID_LENGTH;
    if (pmi.mode == SINGLETON) {
        struct kv *kv = singleton_find(key);
        if (kv == NULL)
            return PMI_ERR_INVALID_KEY;
        found = kv->value;
    } else {
        if ((rc = request("get_result", &r, "cmd=get kvsname=%s key=%s\n", kvsname, key)) != PMI_SUCCESS)
            return rc;
        if ((found = field(&r, "value")) == NULL)
            return broken();
        strip_found_suffix(found);
    }
    if (strlen(found) >= (size_t)length)
        return PMI_ERR_INVALID_VAL_LENGTH;
    strcpy(value, found);
    return PMI_SUCCESS;
}

EXPORT int PMI_Barrier(void)
{
    struct reply r;

    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (pmi.mode == SINGLETON)
        return PMI_SUCCESS;
    return request("barrier_out", &r, "cmd=barrier_in\n");
}

/* Cursor over PMI_process_mapping text. */
static void skip_spaces(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

static int expect_char(const char **p, char c)
{
    skip_spaces(p);
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

static int expect_count(const char **p, long *out)
{
    char *end;

    skip_spaces(p);
    if (**p < '0' || **p > '9')
        return -1;
    errno = 0;
    *out = strtol(*p, &end, 10);
    if (errno != 0 || *out > INT_MAX)
        return -1;
    *p = end;
    return 0;
}

/* The next `(node,nnodes,ppn)` of a mapping, after its leading comma: 1 when read, 0 at the closing parenthesis
 * that ends the vector, -1 on anything else. */
static int next_block(const char **p, long block[3])
{
    if (expect_char(p, ')') == 0)
        return 0;
    if (expect_char(p, ',') < 0 || expect_char(p, '(') < 0 || expect_count(p, &block[0]) < 0
        || expect_char(p, ',') < 0 || expect_count(p, &block[1]) < 0 || expect_char(p, ',') < 0
        || expect_count(p, &block[2]) < 0 || expect_char(p, ')') < 0)
        return -1;
    return 1;
}

/* Past the `(vector` that opens a mapping, or NULL. */
static const char *vector_start(const char *text)
{
    const char *p = text;

    if (expect_char(&p, '(') < 0)
        return NULL;
    skip_spaces(&p);
    return strncmp(p, "vector", 6) == 0 ? p + 6 : NULL;
}

/* The ranks on this rank's node, from `(vector,(node,nnodes,ppn),...)`: block (n,c,p) gives nodes n..n+c-1 p
 * consecutive ranks each, in order.  A vector that runs out before `size` ranks starts over (hydra describes
 * `-n 4` on one host slot as `(vector,(0,1,1))`).  Returns how many there are, filling `ranks` when it is not
 * NULL; -1 when the text cannot be read. */
static int clique_from_mapping(const char *text, int *ranks)
{
    const char *p = vector_start(text);
    long block[3];
    int places_ranks = 0;
    long my_node = -1;
    int count = 0;
    int more;

    /* check it all once, so that the walk below can re-read it without checking */
    if (p == NULL)
        return -1;
    while ((more = next_block(&p, block)) == 1)
        places_ranks |= block[1] > 0 && block[2] > 0;
    skip_spaces(&p);
    /* a vector that places no rank would have the walk below start over forever */
    if (more < 0 || *p != '\0' || !places_ranks)
        return -1;
    /* two walks: find this rank's node, then list the ranks on it */
    for (int pass = 0; pass < 2; pass++) {
        long rank = 0;
        while (rank < pmi.size) {
            p = vector_start(text);
            while (rank < pmi.size && next_block(&p, block) == 1) {
                if (block[2] == 0)
                    continue; /* nodes without ranks: nothing to walk */
                for (long n = 0; n < block[1] && rank < pmi.size; n++) {
                    for (long k = 0; k < block[2] && rank < pmi.size; k++, rank++) {
                        if (pass == 0 && rank == pmi.rank)
                            my_node = block[0] + n;
                        if (pass == 1 && block[0] + n == my_node) {
                            if (ranks != NULL)
                                ranks[count] = (int)rank;
                            count++;
                        }
                    }
                }
            }
        }
    }
    return count;
}

static int load_clique(void)
{
    char *mapping;
    int rc, count;

    if (pmi.mode == UNINITIALIZED)
        return PMI_ERR_INIT;
    if (pmi.clique != NULL)
        return PMI_SUCCESS;
    if ((mapping = malloc((size_t)pmi.vallen_max)) == NULL)
        return PMI_ERR_NOMEM;
    rc = PMI_KVS_Get(pmi.kvsname, "PMI_process_mapping", mapping, pmi.vallen_max);
    /* no mapping (or an empty one, what flux puts when it would be too long): only this rank is known to be
     * here; a get that failed because the connection did is an error, not an absence */
    if ((rc != PMI_SUCCESS && !pmi.broken) || (rc == PMI_SUCCESS && mapping[0] == '\0')) {
        free(mapping);
        if ((pmi.clique = malloc(sizeof(int))) == NULL)
            return PMI_ERR_NOMEM;
        pmi.clique[0] = pmi.rank;
        pmi.clique_size = 1;
        return PMI_SUCCESS;
    }
    if (rc != PMI_SUCCESS) {
        free(mapping);
        return rc;
    }
    count = clique_from_mapping(mapping, NULL);
    if (count <= 0 || (pmi.clique = malloc((size_t)count * sizeof(int))) == NULL) {
        free(mapping);
        return count <= 0 ? PMI_FAIL : PMI_ERR_NOMEM;
    }
    pmi.clique_size = clique_from_mapping(mapping, pmi.clique);
    free(mapping);
    return PMI_SUCCESS;
}

EXPORT int PMI_Get_clique_size(int *size)
{
    int rc;

    if (size == NULL)
        return PMI_ERR_INVALID_ARG;
    if ((rc = load_clique()) != PMI_SUCCESS)
        return rc;
    *size = pmi.clique_size;
    return PMI_SUCCESS;
}

EXPORT int PMI_Get_clique_ranks(int ranks[], int length)
{
    int rc;

    if (ranks == NULL)
        return PMI_ERR_INVALID_ARG;
    if ((rc = load_clique()) != PMI_SUCCESS)
        return rc;
    if (length < pmi.clique_size)
        return PMI_ERR_INVALID_LENGTH;
    memcpy(ranks, pmi.clique, (size_t)pmi.clique_size * sizeof(int));
    return PMI_SUCCESS;
}

/* Name publishing and spawning are not offered by flux's PMI server either. */
EXPORT int PMI_Publish_name(const char service_name[], const char port[])
{
    (void)service_name;
    (void)port;
    return PMI_FAIL;
}

EXPORT int PMI_Unpublish_name(const char service_name[])
{
    (void)service_name;
    return PMI_FAIL;
}

EXPORT int PMI_Lookup_name(const char service_name[], char port[])
{
    (void)service_name;
    (void)port;
    return PMI_FAIL;
}

EXPORT int PMI_Spawn_multiple(int count, const char *cmds[], const char **argvs[], const int maxprocs[],
                              const int info_keyval_sizes[], const PMI_keyval_t *info_keyval_vectors[],
                              int preput_keyval_size, const PMI_keyval_t preput_keyval_vector[], int errors[])
{
    (void)count;
    (void)cmds;
    (void)argvs;
    (void)maxprocs;
    (void)info_keyval_sizes;
    (void)info_keyval_vectors;
    (void)preput_keyval_size;
    (void)preput_keyval_vector;
    (void)errors;
    return PMI_FAIL;
}
