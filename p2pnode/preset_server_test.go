package p2pnode

import "testing"

func TestServerPresetTurnsMDNSOff(t *testing.T) {
	if !DefaultConfig().Discovery.MDNS {
		t.Fatal("mdns is off by default; want on")
	}
	c, err := PresetConfig("server")
	if err != nil {
		t.Fatal(err)
	}
	if c.Discovery.MDNS || c.Preset != "server" {
		t.Fatalf("server preset: mdns %v, preset %q; want mdns off", c.Discovery.MDNS, c.Preset)
	}
	c.DataDir = t.TempDir()
	if err := c.Validate(); err != nil {
		t.Fatalf("server preset does not validate: %v", err)
	}
}
