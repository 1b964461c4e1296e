/* The trivial guest QEMU boots for comparison with oasis-vmm's noop: a PVH
 * entry (Xen ELF note 18) that writes 0 to isa-debug-exit at port 0xf4, so
 * QEMU exits at once (with status 1 = (0 << 1) | 1). */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4             /* namesz: "Xen\0" */
    .long 4             /* descsz */
    .long 18            /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long _start

    .text
    .code32
    .globl _start
_start:
    mov $0xf4, %dx
    xor %eax, %eax
    out %al, %dx
1:  hlt
    jmp 1b
