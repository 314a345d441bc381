/* mashangctl: the administrator's command line (contract §1).  Each
 * subcommand lives in its own src/ctl_*.c; this file only dispatches. */
#include "cli/ctl.h"
#include "cli/ctl_admin.h"

#include <stdio.h>
#include <string.h>

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static const struct subcommand subcommands[] = {
    { "intents", ctl_intents_main,
      "intents test [--dir DIR] [--as resident|deputy] [--json] [\"text\"]\n"
      "  intents check [DIR]\n"
      "  intents eval FILE.tsv [--dir DIR]\n"
      "  intents bench FILE.tsv [--dir DIR]\n"
      "  intents corrections [--label CATEGORY] | intents review   (admin API)" },
    { "cases", ctl_admin_main,
      "cases list [--state S] [--deputy D] [--station S] [--category C] [--overdue]\n"
      "  cases show ID\n"
      "  cases assign ID DEPUTY\n"
      "  cases label ID CATEGORY\n"
      "  cases note ID TEXT\n"
      "  cases withdraw ID REASON" },
    { "deputies", ctl_admin_main, "deputies" },
    { "stats", ctl_admin_main, "stats [--by deputy|station|category] [--from T] [--to T] [--csv]\n"
      "  stats rebuild [--batch N]" },
    { "report", ctl_admin_main, "report --year YYYY [--station S] [--csv|--html|--json]" },
    { "common", ctl_admin_main, "common [list] [--station S] [--limit N] | common split ID | common join ID INTO" },
    { "reload", ctl_admin_main, "reload" },
    { "tenants", ctl_admin_main, "tenants   (the counties the token reaches)" },
    { "outbox", ctl_admin_main, "outbox dead|retry [ID]\n"
      "  (admin commands take --url URL (MASHANG_URL), --token T (MASHANG_ADMIN_TOKEN) and,\n"
      "   with the top-level token of a many-county deployment, --tenant ID (MASHANG_TENANT))" },
};

static int usage(FILE *out)
{
    fprintf(out, "usage: mashangctl COMMAND ...\n");
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
        fprintf(out, "  %s\n", subcommands[i].usage);
    return out == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mashangctl: unknown command \"%s\"\n", argv[1]);
    return usage(stderr);
}
