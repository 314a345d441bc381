#ifndef MASHANG_CTL_H
#define MASHANG_CTL_H
/* Subcommands of mashangctl.  Each takes the arguments after its own
 * name (argv[0] is the subcommand name) and returns the exit status. */

/* `mashangctl intents test|check|eval|bench ...` (src/cli/ctl_intents.c):
 * works offline on an intents directory. */
int ctl_intents_main(int argc, char **argv);

#endif
