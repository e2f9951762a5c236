"""Environment settings (lighting, skybox, fog, ambient sound) from time, weather and season.

Plain lookup tables: designers tune numbers here without touching code. Colours are hex strings
so Unity's ColorUtility.TryParseHtmlString reads them directly.
"""
from __future__ import annotations

from typing import Any

from .intent import EnvironmentIntent

SUN = {  # time of day -> (sun elevation deg, azimuth deg, intensity, sun colour, ambient colour)
    "dawn": (8.0, 80.0, 0.6, "#ffb27a", "#6a5a7a"),
    "morning": (30.0, 110.0, 1.0, "#fff1d6", "#8a9ab0"),
    "noon": (65.0, 180.0, 1.25, "#fffaf0", "#a0b0c8"),
    "afternoon": (40.0, 240.0, 1.1, "#fff0d0", "#98a8c0"),
    "sunset": (6.0, 280.0, 0.7, "#ff8a4c", "#7a5a6a"),
    "night": (-20.0, 0.0, 0.08, "#9fb4ff", "#1a2238"),
}
WEATHER_DIM = {"clear": 1.0, "cloudy": 0.7, "rain": 0.5, "storm": 0.35, "snow": 0.65, "fog": 0.6}
FOG = {"clear": 0.002, "cloudy": 0.006, "rain": 0.015, "storm": 0.025, "snow": 0.02, "fog": 0.06}
SKY_BY_WORLD = {"space": "space_starfield", "surreal": "dream_pastel", "sci_fi": "scifi_haze"}
SOUND_BY_WORLD = {"fantasy": "enchanted_forest", "sci_fi": "station_hum", "realistic": "countryside",
                  "surreal": "dream_chimes", "historical": "village_life", "urban": "city_traffic",
                  "nature": "forest_birds", "space": "space_silence"}


def environment_settings(env: EnvironmentIntent, world_type: str) -> dict[str, Any]:
    elevation, azimuth, intensity, sun_colour, ambient = SUN[env.time_of_day]
    dim = WEATHER_DIM[env.weather]
    if world_type == "space":
        sky = "space_starfield"
    elif env.weather in ("rain", "storm", "cloudy", "snow"):
        sky = f"overcast_{'night' if env.time_of_day == 'night' else 'day'}"
    elif env.time_of_day == "night":
        sky = "night_stars"
    elif env.time_of_day in ("dawn", "sunset"):
        sky = "sunset_warm"
    else:
        sky = SKY_BY_WORLD.get(world_type, "day_clear")
    fog_density = FOG[env.weather] * (0.2 if world_type == "space" else 1.0)
    if env.weather in ("rain", "storm", "snow"):
        sound = {"rain": "rain", "storm": "thunderstorm", "snow": "winter_wind"}[env.weather]
    elif env.time_of_day == "night" and world_type in ("nature", "fantasy", "realistic"):
        sound = "night_crickets"
    else:
        sound = SOUND_BY_WORLD[world_type]
    return {
        "time_of_day": env.time_of_day, "weather": env.weather, "season": env.season,
        "lighting": {"sun_elevation_deg": elevation, "sun_azimuth_deg": azimuth,
                     "sun_intensity": round(intensity * dim, 3), "sun_color": sun_colour,
                     "ambient_color": ambient, "ambient_intensity": round(0.4 + 0.4 * dim, 3),
                     "shadows": env.weather in ("clear", "cloudy") and elevation > 0},
        "skybox": sky,
        "fog": {"enabled": fog_density >= 0.01, "density": fog_density,
                "color": "#c8d0d8" if env.time_of_day != "night" else "#202838"},
        "ambient_sound": sound,
    }
