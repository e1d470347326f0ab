import Testing
@testable import Cropping

/// `CropCalibration.spearman`, the statistic `--normalize auto` decides by: ranks with ties averaged.
@Suite struct ExposureCorrelationTests {
    @Test func spearmanOfMonotoneReversedTiedAndConstantData() {
        #expect(abs(CropCalibration.spearman([1, 2, 3, 4, 5], [10, 20, 25, 90, 100]) - 1) < 1e-12)
        #expect(abs(CropCalibration.spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) + 1) < 1e-12)
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
        #expect(abs(CropCalibration.spearman([1, 2, 2, 3], [1, 3, 2, 4]) - 0.9486832980505138) < 1e-12)
        #expect(CropCalibration.spearman([3, 3, 3], [1, 2, 3]) == 0)
    }
}
