package databasesql

//go:generate go tool bpf2go -tags linux -target amd64 -cflags "-O2 -g -Wall -Werror -I../../bpf/include" -type db_event databasesql databasesql.bpf.c
