using Appliance.Chaos.Faults;

namespace Appliance.Chaos.Tests.Faults;

/// <summary>Needs root and loop devices.</summary>
[Trait("Category", "Chaos")]
public sealed class LoopDiskTests
{
    [Fact]
    public void Fill_ThenWriteMoreThanLeft_FailsWithDiskFullUntilFreed()
    {
        Assert.True(LoopDisk.IsAvailable(), "needs root, loop devices and mkfs.ext4");
        string mount;
        using (var disk = LoopDisk.Create($"test-{Guid.NewGuid():N}"[..17], 16, ownerUid: null))
        {
            mount = disk.MountPoint;
            Assert.Contains(mount, LoopDisk.Mounts());
            disk.Fill(256 << 10);
            Assert.InRange(disk.FreeBytes, 0, 512 << 10);

            var big = new byte[1 << 20];
            var e = Assert.Throws<IOException>(() =>
            {
                using var f = new FileStream(Path.Combine(mount, "data"), FileMode.Create);
                f.Write(big);
                f.Flush(flushToDisk: true);
            });
            Assert.Contains("space", e.Message, StringComparison.OrdinalIgnoreCase);

            disk.Free();
            File.Delete(Path.Combine(mount, "data"));
            using (var f = new FileStream(Path.Combine(mount, "data"), FileMode.Create))
            {
                f.Write(big);
                f.Flush(flushToDisk: true);
            }
        }

        Assert.DoesNotContain(mount, LoopDisk.Mounts());
        Assert.False(Directory.Exists(mount));
    }

    [Fact]
    public void CleanupAll_LeftoverMount_UnmountsAndDeletesImage()
    {
        Assert.True(LoopDisk.IsAvailable(), "needs root, loop devices and mkfs.ext4");
        var disk = LoopDisk.Create($"left-{Guid.NewGuid():N}"[..17], 8, ownerUid: null);
        // Not disposed: as if the runner had crashed.

        var removed = LoopDisk.CleanupAll();

        Assert.Contains($"mount {disk.MountPoint}", removed);
        Assert.DoesNotContain(disk.MountPoint, LoopDisk.Mounts());
        Assert.False(File.Exists(disk.Image));
        Assert.DoesNotContain(disk.Image, Shell.Run("losetup", ["-a"]).Stdout, StringComparison.Ordinal);
    }
}
