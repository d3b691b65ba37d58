/* gen_golden.c - tt_gen_golden PATH: regenerates the golden recording.
 * Run it only together with a format change and an update of the expected
 * events in test_golden.c. */
#include <stdio.h>

#include "tt.h"

int golden_write(const char *path);

int main(int argc, char **argv)
{
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.ttrace\n", argv[0]);
        return 2;
    }
    rc = golden_write(argv[1]);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], tt_strerror(rc));
        return 1;
    }
    return 0;
}
