package probe

//go:generate go tool bpf2go -tags linux -target amd64 -cflags "-O2 -g -Wall -Werror -I../../bpf/include" -type event_header common common.bpf.c
