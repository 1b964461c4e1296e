/* bench/dns/reflector.c: the floor of bench/dns/run. A UDP server that does
 * no DNS work at all: it takes queries in batches of 64 with recvmmsg and
 * sends each back with the QR bit set, with one sendmmsg per batch, sleeping
 * in epoll_wait when nothing is waiting -- the same socket calls as oasis-dns
 * hosted, NSD and Knot. Its CPU per query is what the kernel's loopback UDP
 * path costs; a DNS server can only add to it.
 *
 *     cc -O2 -o reflector reflector.c && ./reflector PORT    (binds 127.0.0.1)
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define BATCH 64
#define SLOT 4096

static char buf[BATCH][SLOT];
static struct mmsghdr msgs[BATCH];
static struct iovec iov[BATCH];
static struct sockaddr_in peers[BATCH];

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("reflector: socket or bind");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = SLOT};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                              .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            epoll_wait(ep, &ev, 1, -1);
            continue;
        }
        for (int i = 0; i < n; i++) {
            iov[i].iov_len = msgs[i].msg_len;
            if (msgs[i].msg_len > 2)
                buf[i][2] |= 0x80; /* QR: a response */
        }
        sendmmsg(fd, msgs, n, 0);
    }
}
