using System.Globalization;

namespace Appliance.Chaos.Faults;

/// <summary>
/// A small size-limited filesystem for the buffer: an ext4 image file loop-mounted under the chaos state directory
/// (<c>/tmp/appliance-chaos/disk-*.img</c> on <c>/tmp/appliance-chaos/mnt-*</c>). "Disk full" is made by a filler
/// file that takes all but a few MiB; freeing it ends the episode. Dispose unmounts (the loop device is released
/// with the mount: <c>autoclear</c>) and deletes the image; <see cref="CleanupAll"/> does the same for leftovers.
/// </summary>
public sealed class LoopDisk : IDisposable
{
    private const string FillerName = "appliance-chaos-filler";
    private bool _disposed;

    private LoopDisk(string image, string mountPoint)
    {
        Image = image;
        MountPoint = mountPoint;
    }

    /// <summary>The image file.</summary>
    public string Image { get; }

    /// <summary>Where it is mounted.</summary>
    public string MountPoint { get; }

    /// <summary>True when loop mounts can be made (root, mkfs.ext4, mount, losetup).</summary>
    public static bool IsAvailable() => Shell.IsRoot && Shell.Exists("mkfs.ext4") && Shell.Exists("losetup") && File.Exists("/dev/loop-control");

    /// <summary>Creates and mounts a <paramref name="sizeMiB"/> MiB ext4 filesystem owned by <paramref name="ownerUid"/> (null = root).</summary>
    public static LoopDisk Create(string name, int sizeMiB, int? ownerUid)
    {
        var root = ChaosPaths.StateRoot;
        Directory.CreateDirectory(root);
        var image = Path.Combine(root, $"disk-{name}.img");
        var mount = Path.Combine(root, $"mnt-{name}");
        Directory.CreateDirectory(mount);
        var disk = new LoopDisk(image, mount);
        try
        {
            using (var f = new FileStream(image, FileMode.Create, FileAccess.Write))
            {
                f.SetLength((long)sizeMiB << 20);
            }

            // No reserved blocks: "full" means full for the buffer too.
            Shell.Check("mkfs.ext4", ["-q", "-F", "-m", "0", image]);
            Shell.Check("mount", ["-o", "loop", image, mount]);
            if (ownerUid is { } uid)
            {
                Shell.Check("chown", [$"{uid}:{uid}", mount]);
            }

            return disk;
        }
        catch
        {
            disk.Dispose();
            throw;
        }
    }

    /// <summary>Free bytes on the filesystem.</summary>
    public long FreeBytes => new DriveInfo(MountPoint).AvailableFreeSpace;

    /// <summary>Fills the filesystem until only <paramref name="leaveBytes"/> are free (at least 0).</summary>
    public void Fill(long leaveBytes)
    {
        var filler = Path.Combine(MountPoint, FillerName);
        var size = Math.Max(0, FreeBytes - leaveBytes);
        var existing = File.Exists(filler) ? new FileInfo(filler).Length : 0;
        Shell.Check("fallocate", ["-l", (existing + size).ToString(CultureInfo.InvariantCulture), filler]);
    }

    /// <summary>Removes the filler file (ends a disk-full episode).</summary>
    public void Free()
    {
        var filler = Path.Combine(MountPoint, FillerName);
        if (File.Exists(filler))
        {
            File.Delete(filler);
        }
    }

    /// <summary>Unmounts and deletes. The forwarder must have stopped (an open file keeps the mount busy; then a lazy unmount is used).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Unmount(MountPoint);
        TryDelete(Image);
        TryDeleteDir(MountPoint);
    }

    /// <summary>Unmounts every chaos mount and deletes every chaos image left by a crashed run; returns what was removed.</summary>
    public static IReadOnlyList<string> CleanupAll()
    {
        var removed = new List<string>();
        var root = ChaosPaths.StateRoot;
        foreach (var mount in Mounts().Where(m => m.StartsWith(root + "/", StringComparison.Ordinal)).OrderByDescending(m => m.Length))
        {
            Unmount(mount);
            removed.Add($"mount {mount}");
        }

        // Loop devices still bound to chaos images (e.g. a mount that failed half-way).
        if (Shell.Exists("losetup"))
        {
            foreach (var line in Shell.Run("losetup", ["-a"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var dev = line.Split(':')[0];
                if (line.Contains(root + "/disk-", StringComparison.Ordinal))
                {
                    Shell.Run("losetup", ["-d", dev]);
                    removed.Add($"loop {dev}");
                }
            }
        }

        if (Directory.Exists(root))
        {
            foreach (var img in Directory.GetFiles(root, "disk-*.img"))
            {
                TryDelete(img);
                removed.Add($"image {img}");
            }

            foreach (var dir in Directory.GetDirectories(root, "mnt-*"))
            {
                TryDeleteDir(dir);
            }
        }

        return removed;
    }

    /// <summary>Mount points currently mounted (from /proc/mounts).</summary>
    public static IReadOnlyList<string> Mounts() =>
        [.. File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).Where(f => f.Length > 1).Select(f => f[1].Replace("\\040", " ", StringComparison.Ordinal))];

    private static void Unmount(string mount)
    {
        if (!Mounts().Contains(mount))
        {
            return;
        }

        if (!Shell.Run("umount", [mount]).Ok)
        {
            Shell.Run("umount", ["-l", mount]);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    private static void TryDeleteDir(string path)
    {
        try
        {
            if (Directory.Exists(path) && !Mounts().Contains(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }
}
