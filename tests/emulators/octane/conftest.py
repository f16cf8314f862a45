from tests.support.octane import _octane_server, octane_config, octane_emulator, octane_settings

__all__ = ["_octane_server", "octane_config", "octane_emulator", "octane_settings"]
