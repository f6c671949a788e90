package server

//go:generate go tool bpf2go -tags linux -target amd64 -cflags "-O2 -g -Wall -Werror -I../../../bpf/include" -type http_server_event -type event_header server server.bpf.c
