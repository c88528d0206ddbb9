/* reports/prov.c — provenance of a result group (see prov.h): which platform,
 * source revision, scale and runs a table or figure comes from.
 * Never: no store access; reads only the group's JSON. */
#include "reports/prov.h"

#include <stdio.h>
#include <string.h>

#include "reports/format.h"
#include "util/text.h"

/* Appends ", item" (or "item" first) to buf when it fits with room for a
 * closing "and N more"; returns 0 when it did not fit. */
static int rprov_append(char *buf, size_t cap, const char *item)
{
    size_t used = strlen(buf), need = strlen(item) + (used ? 2 : 0);
    if (used + need + 24 >= cap)
        return 0;
    snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", item);
    return 1;
}

/* Fills both run lists; the runs that do not fit are counted at the end. */
static void rprov_runs(const json_t *runs, rprov *p)
{
    size_t i, left = 0;
    const json_t *run;
    json_array_foreach(runs, i, run) {
        const char *uuid = report_str(run, "uuid");
        char brief[9];
        cb_strlcpy(brief, uuid, sizeof brief);
        if (left || !rprov_append(p->runs, sizeof p->runs, uuid) ||
            !rprov_append(p->runs_short, sizeof p->runs_short, brief))
            left++;
    }
    if (left) {
        char more[32];
        snprintf(more, sizeof more, "and %zu more", left);
        rprov_append(p->runs, sizeof p->runs, more);
        rprov_append(p->runs_short, sizeof p->runs_short, more);
    }
}

void rprov_from_group(const json_t *group, rprov *p)
{
    const json_t *platform = json_object_get(group, "platform");
    memset(p, 0, sizeof *p);
    cb_strlcpy(p->fingerprint, report_str(platform, "fingerprint"), sizeof p->fingerprint);
    cb_strlcpy(p->label, p->fingerprint, 9);
    snprintf(p->machine, sizeof p->machine, "%s %s, %lld cores / %lld PUs",
             report_str(platform, "cpu_vendor"), report_str(platform, "cpu_model"),
             json_integer_value(json_object_get(platform, "n_cores")),
             json_integer_value(json_object_get(platform, "n_pus")));
    char rev[13];
    cb_strlcpy(rev, report_str(group, "revision"), sizeof rev);
    snprintf(p->revision, sizeof p->revision, "%s%s", rev,
             json_integer_value(json_object_get(group, "dirty")) == 1 ? "+dirty" : "");
    cb_strlcpy(p->scale, report_str(group, "scale"), sizeof p->scale);
    rprov_runs(json_object_get(group, "runs"), p);
}

void rprov_line(const rprov *p, int full, char *buf, size_t cap)
{
    snprintf(buf, cap, "platform %s (%s), revision %s, scale %s, runs %s", p->label, p->machine,
             p->revision, p->scale, full ? p->runs : p->runs_short);
}
