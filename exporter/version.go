package exporter

// Version is the agent version reported as telemetry.distro.version. Release
// builds set it with -ldflags "-X github.com/spanprobe/spanprobe/exporter.Version=v1.2.3".
var Version = "dev"
