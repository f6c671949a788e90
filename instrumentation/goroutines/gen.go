package goroutines

//go:generate go tool bpf2go -tags linux -target amd64 -cflags "-O2 -g -Wall -Werror -I../../bpf/include" goroutines goroutines.bpf.c
