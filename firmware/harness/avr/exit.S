/* avr-libc's exit ends in an endless loop; sleeping with interrupts off instead makes simavr stop, with
 * main's return value still in r24. .fini1 runs after exit() has run the other .fini sections. */
    .section .fini1,"ax",@progbits
    cli
    sleep
