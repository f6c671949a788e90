module funcapp

go 1.18
