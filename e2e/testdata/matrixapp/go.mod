module matrixapp

go 1.17
