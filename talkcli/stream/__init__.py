"""Online mode: audio pushed in as it arrives, frames out on a wall clock (DESIGN §2).

    from talkcli.stream import Session
    with Session("portrait.png", preset="natural", size=256) as s:
        s.start(on_frame)          # or: for frame in s.frames(): ...
        s.push(pcm, rate=24000)    # any chunk size, any thread
        s.end()                    # shown once the queued audio has been
"""

from talkcli.stream.session import Frame, Session, StreamStats

__all__ = ["Frame", "Session", "StreamStats"]
