/*
 * Functions that are easy to misuse turn into compile errors. prelude.h
 * includes this after the C library's headers, and the build force-includes
 * prelude.h into every ooda source file, so a slip fails at its own line.
 */
#ifndef OODA_BANNED_H
#define OODA_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_ooda

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef ctime
#define ctime(t) BANNED(ctime)
#undef asctime
#define asctime(t) BANNED(asctime)

#endif
