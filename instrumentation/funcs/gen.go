package funcs

//go:generate go tool bpf2go -tags linux -target amd64 -cflags "-O2 -g -Wall -Werror -I../../bpf/include" -type func_event -type func_info funcs funcs.bpf.c
