/* mount-acl: the access ACL of a file, as setfacl/getfacl would (no libacl needed).
 * usage: mount-acl set PATH   (user:65534 may read; mask r; others nothing)
 *        mount-acl rm PATH
 *        mount-acl get PATH   (prints "acl" or "none"; exit 1 on any other error)
 *        mount-acl list PATH  (every xattr name listxattr gives, one a line) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#define NAME "system.posix_acl_access"

struct entry { uint16_t tag, perm; uint32_t id; };

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    if (strcmp(argv[1], "set") == 0) {
        struct { uint32_t version; struct entry e[5]; } __attribute__((packed)) acl = {
            2, {{0x01, 6, UINT32_MAX}, {0x02, 4, 65534}, {0x04, 0, UINT32_MAX}, {0x10, 4, UINT32_MAX},
                {0x20, 0, UINT32_MAX}}};
        if (setxattr(argv[2], NAME, &acl, sizeof acl, 0) == 0)
            return 0;
    } else if (strcmp(argv[1], "rm") == 0) {
        if (removexattr(argv[2], NAME) == 0)
            return 0;
    } else if (strcmp(argv[1], "get") == 0) {
        char buf[4096];
        ssize_t n = getxattr(argv[2], NAME, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == ENODATA)) {
            puts(n > 0 ? "acl" : "none");
            return 0;
        }
    } else if (strcmp(argv[1], "list") == 0) {
        char names[65536];
        ssize_t n = listxattr(argv[2], names, sizeof names);
        if (n >= 0) {
            for (ssize_t i = 0; i < n; i += strlen(names + i) + 1)
                puts(names + i);
            return 0;
        }
    } else {
        return 2;
    }
    fprintf(stderr, "%s %s: %s\n", argv[1], argv[2], strerror(errno));
    return 1;
}
