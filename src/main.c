/* ooda's command-line entry point. */
#include <stdio.h>
int main(void)
{
	puts("ooda 0.1.0");
	return 0;
}
