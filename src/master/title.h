/*
 * title — what `ps` shows for each process (Postfix's "smtpd -n smtp -t
 * inet"): the argv area is overwritten with "mailwarden: ROLE -c CONF".
 */
#ifndef MW_TITLE_H
#define MW_TITLE_H

/* Once, first thing in main(): moves argv's strings and the environment
 * to the heap (argv[i] then point to the copies) so that their area can
 * hold the titles. */
void title_init(int argc, char **argv);
/* Show "mailwarden: ROLE -c CONF" in ps (cut to the area's size). */
void title_set(const char *role, const char *conf);
#endif
