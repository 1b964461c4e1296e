/* bench/dns/tapreflector.c: the `tap-floor` of bench/dns/run. The host side
 * of the TAP path the kvm unikernel is reached by, with no guest: it opens
 * the TAP as oasis-vmm does (non-blocking, no packet information header),
 * reads frames one read(2) each and writes each answer with one write(2),
 * as the VMM moves frames between the TAP and the guest's rings, sleeping
 * in poll(2) when nothing is waiting. It is 10.0.0.2 on the link: it
 * answers ARP for that address, and sends every IPv4 UDP datagram to it
 * back to its sender with the DNS QR bit set and no other work (UDP
 * checksum 0, as IPv4 allows). What it costs per query is what the TAP
 * path itself costs; a unikernel behind it can only add to it.
 *
 *     cc -O2 -o tapreflector tapreflector.c && ./tapreflector TAP PORT
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const uint8_t MAC[6] = {0x02, 0x0a, 0x50, 0x00, 0x00, 0x02};
static const uint8_t IP[4] = {10, 0, 0, 2};

/* Answers one frame in place; returns the length to write back, 0 for none. */
static size_t answer(uint8_t *f, size_t n, uint16_t port) {
    if (n < 14)
        return 0;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    if (type == 0x0806 && n >= 42) { /* ARP request for 10.0.0.2 */
        uint8_t *a = f + 14;
        if (a[7] != 1 || memcmp(a + 24, IP, 4) != 0)
            return 0;
        memcpy(f, f + 6, 6);
        memcpy(f + 6, MAC, 6);
        a[7] = 2;
        memcpy(a + 18, a + 8, 10); /* target = the asker */
        memcpy(a + 8, MAC, 6);
        memcpy(a + 14, IP, 4);
        return 42;
    }
    if (type != 0x0800 || n < 14 + 20 + 8 + 12)
        return 0;
    uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if (ip[9] != 17 || memcmp(ip + 16, IP, 4) != 0 || n < 14 + ihl + 8 + 12)
        return 0;
    uint8_t *udp = ip + ihl;
    if ((uint16_t)(udp[2] << 8 | udp[3]) != port)
        return 0;
    uint8_t t[6];
    memcpy(t, f, 6), memcpy(f, f + 6, 6), memcpy(f + 6, t, 6);
    memcpy(t, ip + 12, 4), memcpy(ip + 12, ip + 16, 4), memcpy(ip + 16, t, 4); /* checksum unchanged */
    memcpy(t, udp, 2), memcpy(udp, udp + 2, 2), memcpy(udp + 2, t, 2);
    udp[6] = udp[7] = 0;
    udp[8 + 2] |= 0x80; /* QR */
    return n;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s TAP PORT\n", argv[0]);
        return 2;
    }
    uint16_t port = (uint16_t)atoi(argv[2]);
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct ifreq req;
    memset(&req, 0, sizeof req);
    req.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(req.ifr_name, argv[1], IFNAMSIZ - 1);
    if (fd < 0 || ioctl(fd, TUNSETIFF, &req) < 0) {
        perror("tapreflector: open the TAP");
        return 1;
    }
    static uint8_t frame[65536];
    for (;;) {
        ssize_t n = read(fd, frame, sizeof frame);
        if (n < 0) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, -1);
            continue;
        }
        size_t out = answer(frame, (size_t)n, port);
        if (out > 0 && write(fd, frame, out) < 0)
            continue; /* a full TAP queue drops, as a wire would */
    }
}
