/* bench/dns/reflector.c: the floor of bench/dns/run. A UDP server that does
 * no DNS work at all: it takes queries in batches of 64 with recvmmsg and
 * sends each back with the QR bit set, with one sendmmsg per batch, sleeping
 * in epoll_wait when nothing is waiting -- the same socket calls as oasis-dns
 * hosted, NSD and Knot. Its CPU per query is what the kernel's loopback UDP
 * path costs; a DNS server can only add to it.
 *
 * With "gso" after the port, the answers of a batch that go to the same peer
 * with the same length leave as one UDP GSO train (a UDP_SEGMENT control
 * message; the last segment may be shorter), as the oasis socket stack
 * sends them: the floor for a server that does the same.
 *
 * With "hold=US" as well, it pauses US microseconds (nanosleep) after
 * answering a batch of two or more queries that was not full, as the oasis
 * socket stack does under load (--udp-hold-us): the floor for that.
 *
 *     cc -O2 -o reflector reflector.c && ./reflector PORT [gso [hold=US]]   (binds 127.0.0.1)
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define BATCH 64
#define SLOT 4096
#define SEGMENT_MAX 1232 /* no segment larger than this: fits any IPv6 path */
#define TRAIN_MAX 65000  /* bytes in one train */

static char buf[BATCH][SLOT];
static struct mmsghdr msgs[BATCH];
static struct iovec iov[BATCH];
static struct sockaddr_in peers[BATCH];
/* GSO sending: one message per train. */
static struct mmsghdr out[BATCH];
static struct iovec out_iov[BATCH];
static union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} ctl[BATCH];

static int same_peer(int a, int b) {
    return peers[a].sin_addr.s_addr == peers[b].sin_addr.s_addr && peers[a].sin_port == peers[b].sin_port;
}

/* Groups datagrams 0..n-1 by (peer, length) into trains; returns how many messages. */
static int trains(int n) {
    int group[BATCH], count[BATCH], first[BATCH], tail[BATCH], ngroups = 0;
    for (int i = 0; i < n; i++) {
        int g = 0;
        for (; g < ngroups; g++) {
            int f = first[g];
            if (same_peer(f, i) && msgs[f].msg_len == msgs[i].msg_len && count[g] < 64 &&
                (count[g] + 1) * msgs[i].msg_len <= TRAIN_MAX && msgs[i].msg_len <= SEGMENT_MAX)
                break;
        }
        if (g == ngroups) {
            first[g] = i;
            count[g] = 0;
            tail[g] = -1;
            ngroups++;
        }
        group[i] = g;
        count[g]++;
    }
    /* A lone datagram may end a train to its peer of longer segments. */
    for (int g = 0; g < ngroups; g++) {
        if (count[g] != 1)
            continue;
        int i = first[g];
        for (int h = 0; h < ngroups; h++) {
            int f = first[h];
            if (count[h] >= 2 && count[h] < 64 && tail[h] < 0 && same_peer(f, i) &&
                msgs[f].msg_len > msgs[i].msg_len && (count[h] + 1) * msgs[f].msg_len <= TRAIN_MAX) {
                tail[h] = i;
                count[g] = 0;
                group[i] = h;
                break;
            }
        }
    }
    int m = 0, k = 0;
    for (int g = 0; g < ngroups; g++) {
        if (count[g] == 0)
            continue;
        int start = k;
        for (int i = first[g]; i < n; i++)
            if (group[i] == g && i != tail[g])
                out_iov[k++] = (struct iovec){.iov_base = buf[i], .iov_len = msgs[i].msg_len};
        if (tail[g] >= 0)
            out_iov[k++] = (struct iovec){.iov_base = buf[tail[g]], .iov_len = msgs[tail[g]].msg_len};
        struct msghdr *h = &out[m].msg_hdr;
        *h = (struct msghdr){.msg_name = &peers[first[g]], .msg_namelen = sizeof peers[0],
                             .msg_iov = &out_iov[start], .msg_iovlen = k - start};
        if (k - start >= 2) {
            h->msg_control = ctl[m].buf;
            h->msg_controllen = sizeof ctl[m].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t seg = msgs[first[g]].msg_len;
            memcpy(CMSG_DATA(c), &seg, sizeof seg);
        }
        m++;
    }
    return m;
}

int main(int argc, char **argv) {
    long hold_us = 0;
    if (argc < 2 || argc > 4 || (argc >= 3 && strcmp(argv[2], "gso")) ||
        (argc == 4 && (sscanf(argv[3], "hold=%ld", &hold_us) != 1 || hold_us < 0 || hold_us > 999999))) {
        fprintf(stderr, "usage: %s PORT [gso [hold=US]]\n", argv[0]);
        return 2;
    }
    int gso = argc >= 3;
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
        if (!gso) {
            sendmmsg(fd, msgs, n, 0);
            continue;
        }
        int m = trains(n);
        if (sendmmsg(fd, out, m, 0) < 0) {
            perror("reflector: sendmmsg with UDP_SEGMENT");
            return 1;
        }
        if (hold_us && n >= 2 && n < BATCH) {
            struct timespec ts = {0, hold_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
}
