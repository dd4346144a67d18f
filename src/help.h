/* Per-command help: `waveguard COMMAND --help` and `waveguard help COMMAND` print a command's
 * usage, its options and one example. */
#pragma once

#include <stdio.h>

/* Prints the help of command. Returns 0, or -ENOENT (nothing printed) for an unknown one. */
int help_command(FILE *f, const char *command);

/* Prints the names of the commands that have help, space-separated. */
void help_list(FILE *f);
