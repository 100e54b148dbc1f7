// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// ABI-shape contracts of the V3 forks the bot reads (PancakeSwap V3, Aerodrome/Velodrome
// Slipstream). Their real contracts cannot be deployed here from a package, so these return
// each fork's exact answer shapes, filled by the tests with values copied from a real Uniswap
// V3 pool and position on anvil. They model reads and custody only: no swap, no mint math.

/// Pool state shared by the fork pool shapes: set by the test, read through the fork's ABI.
abstract contract ForkPoolState {
    struct TickInfo {
        uint128 liquidityGross;
        int128 liquidityNet;
        uint256 feeGrowthOutside0X128;
        uint256 feeGrowthOutside1X128;
    }

    struct PositionInfo {
        uint128 liquidity;
        uint256 feeGrowthInside0LastX128;
        uint256 feeGrowthInside1LastX128;
        uint128 tokensOwed0;
        uint128 tokensOwed1;
    }

    address public token0;
    address public token1;
    uint160 internal sqrtPriceX96_;
    int24 internal tick_;
    uint128 public liquidity;
    uint256 public feeGrowthGlobal0X128;
    uint256 public feeGrowthGlobal1X128;
    mapping(int24 => TickInfo) internal ticks_;
    mapping(bytes32 => PositionInfo) public positions;

    function setTokens(address t0, address t1) external {
        token0 = t0;
        token1 = t1;
    }

    function setState(uint160 sqrtPriceX96, int24 tick, uint128 liquidity_, uint256 g0, uint256 g1)
        external
    {
        sqrtPriceX96_ = sqrtPriceX96;
        tick_ = tick;
        liquidity = liquidity_;
        feeGrowthGlobal0X128 = g0;
        feeGrowthGlobal1X128 = g1;
    }

    function setTick(int24 tick, uint128 gross, int128 net, uint256 outside0, uint256 outside1)
        external
    {
        ticks_[tick] = TickInfo(gross, net, outside0, outside1);
    }

    function setPosition(bytes32 key, PositionInfo calldata info) external {
        positions[key] = info;
    }
}

/// PancakeV3Pool's read shape: slot0's feeProtocol is a uint32 (Uniswap: uint8).
contract PancakeV3PoolShape is ForkPoolState {
    uint32 public feeProtocolValue;

    function setFeeProtocol(uint32 value) external {
        feeProtocolValue = value;
    }

    function slot0()
        external
        view
        returns (
            uint160 sqrtPriceX96,
            int24 tick,
            uint16 observationIndex,
            uint16 observationCardinality,
            uint16 observationCardinalityNext,
            uint32 feeProtocol,
            bool unlocked
        )
    {
        return (sqrtPriceX96_, tick_, 0, 1, 1, feeProtocolValue, true);
    }

    function ticks(int24 tick)
        external
        view
        returns (
            uint128 liquidityGross,
            int128 liquidityNet,
            uint256 feeGrowthOutside0X128,
            uint256 feeGrowthOutside1X128,
            int56 tickCumulativeOutside,
            uint160 secondsPerLiquidityOutsideX128,
            uint32 secondsOutside,
            bool initialized
        )
    {
        TickInfo storage t = ticks_[tick];
        return (
            t.liquidityGross,
            t.liquidityNet,
            t.feeGrowthOutside0X128,
            t.feeGrowthOutside1X128,
            0,
            0,
            0,
            t.liquidityGross > 0
        );
    }
}

/// Slipstream CLPool's read shape: a six-field slot0 (no feeProtocol) and ticks() with
/// stakedLiquidityNet and rewardGrowthOutsideX128 around the fee growth.
contract SlipstreamPoolShape is ForkPoolState {
    function slot0()
        external
        view
        returns (
            uint160 sqrtPriceX96,
            int24 tick,
            uint16 observationIndex,
            uint16 observationCardinality,
            uint16 observationCardinalityNext,
            bool unlocked
        )
    {
        return (sqrtPriceX96_, tick_, 0, 1, 1, true);
    }

    function ticks(int24 tick)
        external
        view
        returns (
            uint128 liquidityGross,
            int128 liquidityNet,
            int128 stakedLiquidityNet,
            uint256 feeGrowthOutside0X128,
            uint256 feeGrowthOutside1X128,
            uint256 rewardGrowthOutsideX128,
            int56 tickCumulativeOutside,
            uint160 secondsPerLiquidityOutsideX128,
            uint32 secondsOutside,
            bool initialized
        )
    {
        TickInfo storage t = ticks_[tick];
        // stakedLiquidityNet and rewardGrowthOutsideX128 set apart from the fee growth, so a
        // reader taking Uniswap's word indexes would read them instead
        return (
            t.liquidityGross,
            t.liquidityNet,
            -t.liquidityNet,
            t.feeGrowthOutside0X128,
            t.feeGrowthOutside1X128,
            7,
            0,
            0,
            0,
            t.liquidityGross > 0
        );
    }
}

/// Slipstream CLFactory's pool creation: EIP-1167 clones of poolImplementation, CREATE2
/// salted by keccak256(abi.encode(token0, token1, tickSpacing)).
contract SlipstreamFactoryShape {
    address public poolImplementation;
    mapping(address => mapping(address => mapping(int24 => address))) public getPool;

    constructor(address implementation) {
        poolImplementation = implementation;
    }

    function createPool(address token0, address token1, int24 tickSpacing)
        external
        returns (address pool)
    {
        bytes32 salt = keccak256(abi.encode(token0, token1, tickSpacing));
        bytes memory code = abi.encodePacked(
            hex"3d602d80600a3d3981f3363d3d373d3d3d363d73",
            poolImplementation,
            hex"5af43d82803e903d91602b57fd5bf3"
        );
        assembly {
            pool := create2(0, add(code, 0x20), mload(code), salt)
        }
        require(pool != address(0), "create2 failed");
        getPool[token0][token1][tickSpacing] = pool;
    }
}

interface IERC721ReceiverShape {
    function onERC721Received(address operator, address from, uint256 tokenId, bytes calldata data)
        external
        returns (bytes4);
}

/// ERC-721 custody with owner enumeration, as a position manager keeps its NFTs.
abstract contract PositionNftShape {
    struct Position {
        address token0;
        address token1;
        int24 tickLower;
        int24 tickUpper;
        uint128 liquidity;
        uint256 feeGrowthInside0LastX128;
        uint256 feeGrowthInside1LastX128;
        uint128 tokensOwed0;
        uint128 tokensOwed1;
    }

    address public factory;
    mapping(uint256 => address) internal owners_;
    mapping(uint256 => address) public getApproved;
    mapping(address => uint256[]) internal owned_;
    mapping(uint256 => Position) internal positions_;

    function ownerOf(uint256 tokenId) external view returns (address) {
        address owner = owners_[tokenId];
        require(owner != address(0), "ERC721: invalid token ID");
        return owner;
    }

    function balanceOf(address owner) external view returns (uint256) {
        return owned_[owner].length;
    }

    function tokenOfOwnerByIndex(address owner, uint256 index) external view returns (uint256) {
        require(index < owned_[owner].length, "ERC721Enumerable: owner index out of bounds");
        return owned_[owner][index];
    }

    function mint(address to, uint256 tokenId, Position calldata position) external {
        require(owners_[tokenId] == address(0), "minted");
        positions_[tokenId] = position;
        _give(to, tokenId);
    }

    function burn(uint256 tokenId) external {
        require(owners_[tokenId] == msg.sender, "not owner");
        _take(msg.sender, tokenId);
        delete positions_[tokenId];
    }

    function approve(address to, uint256 tokenId) external {
        require(owners_[tokenId] == msg.sender, "not owner");
        getApproved[tokenId] = to;
    }

    function transferFrom(address from, address to, uint256 tokenId) public {
        require(owners_[tokenId] == from, "not from");
        require(msg.sender == from || getApproved[tokenId] == msg.sender, "not allowed");
        _take(from, tokenId);
        _give(to, tokenId);
    }

    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        transferFrom(from, to, tokenId);
        if (to.code.length > 0) {
            bytes4 answer = IERC721ReceiverShape(to).onERC721Received(msg.sender, from, tokenId, "");
            require(answer == IERC721ReceiverShape.onERC721Received.selector, "not received");
        }
    }

    function _give(address to, uint256 tokenId) internal {
        owners_[tokenId] = to;
        owned_[to].push(tokenId);
    }

    function _take(address from, uint256 tokenId) internal {
        uint256[] storage list = owned_[from];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == tokenId) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        delete owners_[tokenId];
        delete getApproved[tokenId];
    }
}

/// PancakeSwap's NonfungiblePositionManager read shape: Uniswap's positions() (uint24 fee)
/// and a deployer() (the PoolDeployer its pool addresses derive from).
contract PancakeNpmShape is PositionNftShape {
    address public deployer;
    mapping(uint256 => uint24) internal fees_;

    constructor(address factory_, address deployer_) {
        factory = factory_;
        deployer = deployer_;
    }

    function setFee(uint256 tokenId, uint24 fee) external {
        fees_[tokenId] = fee;
    }

    /// The answer as one static struct: on the wire the same twelve words as a flat list.
    struct PositionAnswer {
        uint96 nonce;
        address operator;
        address token0;
        address token1;
        uint24 fee;
        int24 tickLower;
        int24 tickUpper;
        uint128 liquidity;
        uint256 feeGrowthInside0LastX128;
        uint256 feeGrowthInside1LastX128;
        uint128 tokensOwed0;
        uint128 tokensOwed1;
    }

    function positions(uint256 tokenId) external view returns (PositionAnswer memory answer) {
        Position storage p = positions_[tokenId];
        require(p.token0 != address(0), "Invalid token ID");
        answer.token0 = p.token0;
        answer.token1 = p.token1;
        answer.fee = fees_[tokenId];
        answer.tickLower = p.tickLower;
        answer.tickUpper = p.tickUpper;
        answer.liquidity = p.liquidity;
        answer.feeGrowthInside0LastX128 = p.feeGrowthInside0LastX128;
        answer.feeGrowthInside1LastX128 = p.feeGrowthInside1LastX128;
        answer.tokensOwed0 = p.tokensOwed0;
        answer.tokensOwed1 = p.tokensOwed1;
    }
}

/// Slipstream's NonfungiblePositionManager read shape: positions() with int24 tickSpacing
/// where Uniswap has uint24 fee.
contract SlipstreamNpmShape is PositionNftShape {
    mapping(uint256 => int24) internal spacings_;

    constructor(address factory_) {
        factory = factory_;
    }

    function setTickSpacing(uint256 tokenId, int24 tickSpacing) external {
        spacings_[tokenId] = tickSpacing;
    }

    /// The answer as one static struct: on the wire the same twelve words as a flat list.
    struct PositionAnswer {
        uint96 nonce;
        address operator;
        address token0;
        address token1;
        int24 tickSpacing;
        int24 tickLower;
        int24 tickUpper;
        uint128 liquidity;
        uint256 feeGrowthInside0LastX128;
        uint256 feeGrowthInside1LastX128;
        uint128 tokensOwed0;
        uint128 tokensOwed1;
    }

    function positions(uint256 tokenId) external view returns (PositionAnswer memory answer) {
        Position storage p = positions_[tokenId];
        require(p.token0 != address(0), "Invalid token ID");
        answer.token0 = p.token0;
        answer.token1 = p.token1;
        answer.tickSpacing = spacings_[tokenId];
        answer.tickLower = p.tickLower;
        answer.tickUpper = p.tickUpper;
        answer.liquidity = p.liquidity;
        answer.feeGrowthInside0LastX128 = p.feeGrowthInside0LastX128;
        answer.feeGrowthInside1LastX128 = p.feeGrowthInside1LastX128;
        answer.tokensOwed0 = p.tokensOwed0;
        answer.tokensOwed1 = p.tokensOwed1;
    }
}

/// MasterChefV3's custody shape: an NFT sent with safeTransferFrom is held for its sender,
/// enumerated per depositor and named in userPositionInfos(tokenId).user.
contract MasterChefV3Shape is IERC721ReceiverShape {
    struct UserPositionInfo {
        uint128 liquidity;
        uint128 boostLiquidity;
        int24 tickLower;
        int24 tickUpper;
        uint256 rewardGrowthInside;
        uint256 reward;
        address user;
        uint256 pid;
        uint256 boostMultiplier;
    }

    PositionNftShape public nonfungiblePositionManager;
    mapping(uint256 => UserPositionInfo) public userPositionInfos;
    mapping(address => uint256[]) internal deposited_;

    constructor(PositionNftShape npm) {
        nonfungiblePositionManager = npm;
    }

    function onERC721Received(address, address from, uint256 tokenId, bytes calldata)
        external
        returns (bytes4)
    {
        require(msg.sender == address(nonfungiblePositionManager), "not the NPM");
        userPositionInfos[tokenId].user = from;
        userPositionInfos[tokenId].pid = 1;
        deposited_[from].push(tokenId);
        return this.onERC721Received.selector;
    }

    function balanceOf(address user) external view returns (uint256) {
        return deposited_[user].length;
    }

    function tokenOfOwnerByIndex(address user, uint256 index) external view returns (uint256) {
        return deposited_[user][index];
    }

    function withdraw(uint256 tokenId, address to) external returns (uint256 reward) {
        require(userPositionInfos[tokenId].user == msg.sender, "not the depositor");
        uint256[] storage list = deposited_[msg.sender];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == tokenId) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        delete userPositionInfos[tokenId];
        nonfungiblePositionManager.transferFrom(address(this), to, tokenId);
        return 0;
    }
}

/// Slipstream CLGauge's custody shape: deposit pulls an approved NFT, stakedValues lists a
/// depositor's ids, stakedContains confirms one, withdraw returns it.
contract SlipstreamGaugeShape {
    PositionNftShape public nft;
    mapping(address => uint256[]) internal staked_;

    constructor(PositionNftShape npm) {
        nft = npm;
    }

    function deposit(uint256 tokenId) external {
        nft.transferFrom(msg.sender, address(this), tokenId);
        staked_[msg.sender].push(tokenId);
    }

    function withdraw(uint256 tokenId) external {
        require(stakedContains(msg.sender, tokenId), "not staked");
        uint256[] storage list = staked_[msg.sender];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == tokenId) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        nft.transferFrom(address(this), msg.sender, tokenId);
    }

    function stakedValues(address depositor) external view returns (uint256[] memory) {
        return staked_[depositor];
    }

    function stakedContains(address depositor, uint256 tokenId) public view returns (bool) {
        uint256[] storage list = staked_[depositor];
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == tokenId) return true;
        }
        return false;
    }
}
