package headscan

//go:generate go tool bpf2go -tags linux -target amd64 -cflags "-O2 -g -Wall -Werror -I../include" -type scan_case headscan headscan.bpf.c
