package propagation

//go:generate go tool bpf2go -tags linux -target amd64 -cflags "-O2 -g -Wall -Werror -I../../../bpf/include" propagation propagation.bpf.c
