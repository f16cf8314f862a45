from tests.support.xray import _xray_servers, xray_cloud, xray_server

__all__ = ["_xray_servers", "xray_cloud", "xray_server"]
