from tests.support.xray import _xray_servers, xray_cloud, xray_cloud_settings, xray_server, xray_settings

__all__ = ["_xray_servers", "xray_cloud", "xray_cloud_settings", "xray_server", "xray_settings"]
